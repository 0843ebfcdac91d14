"""The exercises of the questions chapter: per page ('q01' … 'q10'), (what to try, the papermill command
that runs it) pairs. `cu_book.questions.exercises` turns one page's list into Markdown after checking every
command against the parameters its template declares, so the commands run as printed (from the repository
root, in the project's environment)."""
from __future__ import annotations

EXERCISES: dict[str, list[tuple[str, str]]] = {
    "q01": [
        ("Draw the same t-SNE and probe for an output-space method, and compare its maps with CU's.",
         "papermill notebooks/geometry.ipynb q01_geometry_rl.ipynb -p method random_label -p task class"),
        ("Repeat the comparison of representation-, output- and input-space methods on another seed (another split "
         "and another original model): does the ranking of the probe accuracies hold?",
         'papermill notebooks/compare_methods.ipynb q01_compare.ipynb -p task class -p seed 3 '
         '-p methods "contrastive,random_label,neggrad,unsir,boundary_shrink"'),
        ("Run the geometry template on CIFAR-10 (the JPEG copy in `$CU_DATA_DIR`), where the network has more to "
         "memorise, and check whether CU's probe accuracy moves towards Retrain's.",
         "papermill notebooks/geometry.ipynb q01_geometry_cifar.ipynb -p dataset cifar10 -p data_source archive "
         "-p train_epochs 5 -p preset cifar-cpu"),
    ],
    "q02": [
        ("Compare the paper's arithmetic with the authors' code on the sample task, where the code's push weight "
         "changes the update, on a new seed.",
         'papermill notebooks/ablation.ipynb q02_variant.ipynb -p knob variant -p values "paper,official" '
         "-p task sample -p seed 3"),
        ("Stop the gradient through the retain embeddings (only the forget embeddings move, as in the NeurIPS 2023 "
         "winning solution) and see what changes.",
         'papermill notebooks/ablation.ipynb q02_detach.ipynb -p knob detach_retain -p values "false,true" '
         "-p task class"),
        ("Sum the anchors' losses, as Eqs. (5)–(6) are written, instead of averaging them as the code does: at the "
         "same learning rate this multiplies the contrastive step by the batch size.",
         'papermill notebooks/ablation.ipynb q02_reduction.ipynb -p knob reduction -p values "mean,sum" '
         "-p task sample"),
    ],
    "q03": [
        ("Extend the ω sweep beyond the paper's limit of 4 on the sample task: does a larger ω still shorten the "
         "run, and what does it cost in examples processed?",
         'papermill notebooks/ablation.ipynb q03_omega.ipynb -p knob omega -p values "1,2,4,8,16" -p task sample'),
        ("Pair each forget batch with smaller or larger retain batches by changing the common batch size B (forget "
         "and retain batches share it).",
         'papermill notebooks/ablation.ipynb q03_batch.ipynb -p knob batch_size -p values "16,32,64,128" '
         "-p task class"),
        ("Check the random-against-sequential result on a new seed with ω = 1, where each forget batch meets a single "
         "retain batch and the choice of that batch matters most.",
         'papermill notebooks/ablation.ipynb q03_sampling.ipynb -p knob retain_sampling -p values "random,sequential" '
         "-p seed 3 -p base_overrides '{\"omega\": 1}'"),
    ],
    "q04": [
        ("Find the smallest CE weight that still keeps the remaining classes: sweep λ_CE between 0 and the default.",
         'papermill notebooks/ablation.ipynb q04_lce.ipynb -p knob lambda_ce -p values "0,0.1,0.3,1,3" -p task class'),
        ("Test the explanation of the collapse: stop the gradient through the retain embeddings (only the forget "
         "embeddings move) and remove the CE term again.",
         'papermill notebooks/ablation.ipynb q04_detach.ipynb -p knob lambda_ce -p values "0,1" -p task class '
         "-p base_overrides '{\"detach_retain\": true}'"),
        ("Repeat the λ_CE ablation on the sample task with a larger forget set, where the contrastive term both "
         "pushes and pulls.",
         'papermill notebooks/ablation.ipynb q04_lce_sample.ipynb -p knob lambda_ce -p values "0,1" -p task sample '
         "-p num_forget 400"),
    ],
    "q05": [
        ("Confirm on new seeds that the paper's and the code's class loss give the same unlearned model.",
         'papermill notebooks/ablation.ipynb q05_variant.ipynb -p knob variant -p values "paper,official" '
         "-p task class -p seed 4"),
        ("The real brake on the pull is its step size. Sweep the temperature with the code's arithmetic: a smaller τ "
         "scales the pull up by 1/τ.",
         'papermill notebooks/ablation.ipynb q05_tau.ipynb -p knob temperature -p values "0.1,0.3,0.7,1.5" '
         "-p task class -p base_overrides '{\"variant\": \"official\"}'"),
        ("|N| grows with the batch size; check that the mean over negatives makes the unlearning insensitive to it.",
         'papermill notebooks/ablation.ipynb q05_batch.ipynb -p knob batch_size -p values "16,64,256" -p task class'),
    ],
    "q06": [
        ("Add a fixed budget to the comparison of stopping rules on the sample task.",
         'papermill notebooks/ablation.ipynb q06_rules.ipynb -p knob stop_rule -p values "val,test,no_heldout,fixed" '
         "-p task sample"),
        ("Map the whole trade-off: run a fixed number of passes and watch forget accuracy, kept accuracy and the gap "
         "grow or shrink with the budget.",
         'papermill notebooks/ablation.ipynb q06_budget.ipynb -p knob max_passes -p values "1,2,4,8,16" '
         "-p task sample -p base_overrides '{\"stop_rule\": \"fixed\"}'"),
        ("Compare the rules on CIFAR-10, where the forget set is larger and the accuracies of Eq. (9) less noisy.",
         'papermill notebooks/ablation.ipynb q06_cifar.ipynb -p knob stop_rule -p values "val,test,no_heldout" '
         "-p task sample -p num_forget 500 -p dataset cifar10 -p data_source archive -p train_epochs 5 "
         "-p preset cifar-cpu"),
    ],
    "q07": [
        ("Strengthen the per-example attack with twice as many shadow models and see whether CU's balanced accuracy "
         "moves away from 50 %.",
         "papermill notebooks/attacks.ipynb q07_ulira16.ipynb -p task sample -p ulira_shadows 16"),
        ("Attack an output-space method the same way and compare it with CU.",
         "papermill notebooks/attacks.ipynb q07_rl.ipynb -p task sample -p method random_label"),
        ("Run the attacks on CIFAR-10 with the paper's 500 forget images, where the original model memorises more.",
         "papermill notebooks/attacks.ipynb q07_cifar.ipynb -p task sample -p num_forget 500 -p dataset cifar10 "
         "-p data_source archive -p train_epochs 5 -p preset cifar-cpu -p ulira_shadows 8"),
    ],
    "q08": [
        ("Forget fewer, more extreme images: the 25 most atypical against 25 random ones.",
         'papermill notebooks/ablation.ipynb q08_small.ipynb -p knob forget_selection -p values "random,atypical" '
         "-p task sample -p num_forget 25"),
        ("Does an output-space method do better on atypical images? Run Random Label on the atypical forget set and "
         "compare its forget accuracy with CU's and Retrain's.",
         "papermill notebooks/sample_unlearning.ipynb q08_rl.ipynb -p forget_selection atypical "
         "-p method random_label"),
        ("Check whether CU's stopping rule is the limit: give it a fixed budget on the atypical set and watch the "
         "forget accuracy pass Retrain's.",
         'papermill notebooks/ablation.ipynb q08_budget.ipynb -p knob max_passes -p values "2,5,10,20" -p task sample '
         "-p forget_selection atypical -p base_overrides '{\"stop_rule\": \"fixed\"}'"),
    ],
    "q09": [
        ("Tune the no-held-out rule itself: sweep the retain-confidence quantile it stops at, and compare each "
         "stopping point with Retrain's.",
         'papermill notebooks/ablation.ipynb q09_quantile.ipynb -p knob self_quantile -p values "0.02,0.05,0.1,0.25" '
         "-p task sample -p base_overrides '{\"stop_rule\": \"no_heldout\"}'"),
        ("Is the temperature still forgiving when nothing held out decides when to stop?",
         'papermill notebooks/ablation.ipynb q09_tau.ipynb -p knob temperature -p values "0.1,0.3,0.7,1.5" '
         "-p task class -p base_overrides '{\"stop_rule\": \"no_heldout\"}'"),
        ("Sweep the learning rate under the no-held-out rule on the sample task.",
         'papermill notebooks/ablation.ipynb q09_lr.ipynb -p knob lr -p values "0.0003,0.001,0.003" -p task sample '
         "-p base_overrides '{\"stop_rule\": \"no_heldout\"}'"),
    ],
    "q10": [
        ("Repeat the CNN-against-ViT comparison on the sample task on a new seed.",
         'papermill notebooks/ablation.ipynb q10_model.ipynb -p knob model -p values "cnn4,vit_tiny" -p task sample '
         "-p seed 3"),
        ("Unlearn a class from a ViT whose embedding is the normalised encoder output itself (no projection head).",
         "papermill notebooks/class_unlearning.ipynb q10_vit_linear.ipynb -p model vit_tiny -p head linear"),
        ("Compare CU with an output-space and a teacher-student method on the ViT: does the ranking of Q1 "
         "hold for a Transformer?",
         'papermill notebooks/compare_methods.ipynb q10_vit_methods.ipynb -p model vit_tiny -p task class '
         '-p methods "contrastive,random_label,scrub"'),
    ],
}

#: Per page, exercises that read a number the page shows: (title, question, hint, solution). The solutions quote
#: the page's own glue values (`{glue:text}` roles), so no number here is typed.
G = "{{glue:text}}`{}`".format
READING: dict[str, list[tuple[str, str, str, str]]] = {
    "q01": [("Read the probe", "Does CU remove the forgotten class from the representation, or only from the outputs?",
             "Compare the output accuracy on the forgotten class with the linear probe's accuracy on the same images.",
             f"The page's reading: the claim {G('answer')}")],
    "q02": [("Two loss terms over one run", "How do the contrastive term and the CE term change between the first "
             "and the last step of CU's default class-task run, and how many passes does the run take?",
             "The figure of the loss terms shows both per step; the passes are in the page's text.",
             f"Class task: the contrastive term goes {G('class_ul')}, the CE term {G('class_ce')} (sample task: "
             f"{G('sample_ul')} and {G('sample_ce')}). Switching to the code's arithmetic changes the class task's "
             f"Avg. Gap as follows: it {G('var_class')}.")],
    "q03": [("Passes against examples", "Going from ω = 1 to larger ω, what happens to the passes over the forget "
             "set and to the examples processed in the class task?",
             "Fewer passes does not mean less work: each pass sees ω retain batches per forget batch.",
             f"Class task, per ω: {G('omega_class')}. Across the ω values the largest and the smallest number of "
             f"examples processed differ by a factor of {G('omega_class_ratio')} (class task) and "
             f"{G('omega_sample_ratio')} (sample task): near one, ω spreads about the same work over fewer, longer "
             "passes.")],
    "q04": [("Without the CE term", "What happens to the remaining-class accuracy and to the forget-class accuracy "
             "in the class task when λ_CE = 0?",
             "Read the λ_CE figure's class-task row; the page's text gives the change with its spread over seeds.",
             f"Without CE the remaining-class test accuracy {G('class_util')}, the forget-class accuracy "
             f"{G('class_forget')}, and the run takes {G('class_passes0')} passes.")],
    "q05": [("The damping in numbers", "With the page's toy sizes, what is log |N| (the offset of the log-sum over "
             "negatives), and how does the code's arithmetic change the class task's results?",
             "|N| is the number of negatives per anchor; the page computes the offset for its toy batch.",
             f"log |N| = {G('logN')} for the toy batch ({G('b_u')} forget and {G('b_r')} retain embeddings of "
             f"dimension {G('dim')}). Between the paper's and the code's form the results differ by at most "
             f"{G('var_diff')} over {G('var_seeds')} seeds: the gradient is the same.")],
    "q06": [("Which rule costs what", "Against the default validation rule, how does the Avg. Gap change with the "
             "test-set rule and with the no-held-out rule, in each task?",
             "The page's stopping-rule table gives the Avg. Gap per rule and task; the text gives the paired changes.",
             f"Class task: with the test rule the Avg. Gap {G('class_test')}; without held-out data it "
             f"{G('class_nohe')}. Sample task: {G('sample_test')} and {G('sample_nohe')}.")],
    "q07": [("Can the attack decide?", "Can any verdict about CU's privacy rest on the paper's attack at this scale?",
             "Apply the power rule: does the attack see membership on Retrain, and would doing nothing fail?",
             f"{G('power')} In numbers: {G('text')}")],
    "q08": [("Atypical images", "How much of the trace of training on atypical images does CU remove?",
             "Compare the original's and Retrain's accuracy on the atypical forget set with CU's.",
             f"{G('answer')} Against a random forget set the Avg. Gap {G('gap')}.")],
    "q09": [("Stopping without held-out data", "What does the no-held-out rule cost in passes and in Avg. Gap?",
             "The page's rule table compares it with the validation rule in both tasks.",
             f"Passes: {G('class_passes')} (class) and {G('sample_passes')} (sample); Avg. Gap {G('class_gap')} and "
             f"{G('sample_gap')}. Class task: {G('class_verdict')}; sample task: {G('sample_verdict')}.")],
    "q10": [("CNN against ViT", "How does the Avg. Gap change from the CNN to the small ViT, and what does the head "
             "change?", "Read the model and head figures' Avg. Gap panels.",
             f"From the CNN to the ViT the Avg. Gap {G('class_vit')} (class task) and {G('sample_vit')} (sample "
             f"task); with the linear head it {G('class_head')} (class) and {G('sample_head')} (sample).")],
}
