// Issue 21: scale down every display equation that is wider than its column once MathJax has rendered it
// (MathJax 3 does not break lines), so no equation is clipped or needs sideways scrolling.
(function () {
  function fit() {
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (box) {
      var math = box.querySelector("mjx-math");
      if (!math) { return; }
      box.style.fontSize = "";
      var room = box.clientWidth, need = math.getBoundingClientRect().width;
      if (room > 0 && need > room) {
        box.style.fontSize = Math.floor(100 * room / need) + "%";
      }
    });
  }
  function whenReady() {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(fit);
    } else {
      setTimeout(whenReady, 100);
    }
  }
  window.addEventListener("load", whenReady);
  window.addEventListener("resize", fit);
})();
