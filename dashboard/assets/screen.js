/* The big screen's two behaviours that CSS alone cannot have.
 *
 * Fit: /screen is laid out on a 1920x1080 canvas; this scales it to the window (3840x2160
 * is the same picture at twice the size) and centres it, so a wall of any size shows all
 * of it without scrollbars. The scale is a CSS variable on the root, set before the page
 * renders and on every resize.
 *
 * Roll: a big number or partner figure that changes rolls in (the lt-changed class and its
 * animation in livetally.css); nothing moves for prefers-reduced-motion.
 */
(function () {
  "use strict";
  var WIDTH = 1920;
  var HEIGHT = 1080;
  var root = document.documentElement;

  function fit() {
    var scale = Math.min(window.innerWidth / WIDTH, window.innerHeight / HEIGHT);
    root.style.setProperty("--lt-screen-scale", String(scale));
    root.style.setProperty("--lt-screen-x", (window.innerWidth - WIDTH * scale) / 2 + "px");
    root.style.setProperty("--lt-screen-y", (window.innerHeight - HEIGHT * scale) / 2 + "px");
  }

  fit();
  window.addEventListener("resize", fit);

  var still = window.matchMedia("(prefers-reduced-motion: reduce)");
  var NUMBERS = ".lt-screen-value, .lt-chip-value";

  function roll(el) {
    el.classList.remove("lt-changed");
    void el.offsetWidth; // restart the animation when the number changes again
    el.classList.add("lt-changed");
  }

  function changed(records) {
    // Dash loads every asset on every page: only the big screen's numbers roll.
    if (still.matches || !document.querySelector(".lt-screen")) return;
    var seen = [];
    records.forEach(function (record) {
      var node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      var el = node && node.closest(NUMBERS);
      if (el && seen.indexOf(el) < 0) seen.push(el);
    });
    seen.forEach(roll);
  }

  function watch() {
    new MutationObserver(changed).observe(document.body, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  }

  if (document.body) watch();
  else document.addEventListener("DOMContentLoaded", watch);
})();
