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
