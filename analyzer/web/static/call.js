// The call page: clicking a piece of evidence highlights its turn and plays the recording there.
(function () {
  "use strict";
  var player = document.getElementById("player");

  function highlight(turn) {
    document.querySelectorAll(".turn.highlight").forEach(function (el) {
      el.classList.remove("highlight");
    });
    var el = document.getElementById("turn-" + turn);
    if (el) {
      el.classList.add("highlight");
      // Scroll the transcript box only: the item just clicked stays where it is.
      var box = el.closest(".transcript");
      if (box) {
        var top = el.offsetTop - box.offsetTop - box.clientHeight / 2 + el.clientHeight / 2;
        box.scrollTo({ top: Math.max(0, top), behavior: "smooth" });
      }
    }
  }

  function seek(seconds) {
    if (!player || isNaN(seconds)) return;
    var go = function () {
      player.currentTime = seconds;
      var playing = player.play();
      if (playing && playing.catch) playing.catch(function () {});
    };
    if (player.readyState >= 1) go();
    else player.addEventListener("loadedmetadata", go, { once: true });
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("button.evidence, li.turn");
    if (!target) return;
    var turn = target.classList.contains("turn")
      ? target.id.replace("turn-", "")
      : target.dataset.turn;
    highlight(turn);
    if (target.dataset.start !== undefined) seek(parseFloat(target.dataset.start));
  });

  // Changing an item's status marks it, so the manager sees what they are about to override.
  document.querySelectorAll(".decide select").forEach(function (select) {
    var initial = select.value;
    select.addEventListener("change", function () {
      select.closest(".item").classList.toggle("changed", select.value !== initial);
    });
  });
})();
