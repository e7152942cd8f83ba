// The call page: clicking a piece of evidence highlights its turn and plays the recording there.
// A manager who sets an item to met or partial (or presses its "Choose sentence") picks the
// sentence that earned it by clicking a turn: its number goes into the item's evidence__ID field,
// which a manager without this script fills in by hand from the numbers in the transcript.
(function () {
  "use strict";
  var player = document.getElementById("player");
  var EARNS = { met: true, partial: true }; // the statuses a sentence can earn
  var picking = null; // the .item whose sentence is being picked
  var hint = null;

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

  function stopPicking() {
    if (!picking) return;
    picking.classList.remove("picking");
    picking = null;
    document.body.classList.remove("picking-evidence");
    if (hint) hint.hidden = true;
  }

  function startPicking(item) {
    stopPicking();
    var input = item.querySelector("input.evidence-turn");
    var heading = document.querySelector(".transcript h2");
    if (!input || input.disabled || !heading) return;
    picking = item;
    item.classList.add("picking");
    document.body.classList.add("picking-evidence");
    if (!hint) {
      hint = document.createElement("p");
      hint.className = "pick-hint";
      hint.id = "pick-hint";
      heading.insertAdjacentElement("afterend", hint);
    }
    var text = item.querySelector(".item-text");
    hint.textContent =
      "Click the sentence that earned \u201c" +
      (text ? text.textContent.trim() : input.dataset.item) +
      "\u201d (Esc: stop choosing).";
    hint.hidden = false;
  }

  // The chosen sentence under the item, and every item's chosen turn marked in the transcript.
  function showChoice(input) {
    var out = input.closest(".pick").querySelector(".pick-chosen");
    var turn = input.value === "" ? null : document.getElementById("turn-" + input.value);
    var said = turn && turn.querySelector(".text");
    if (out) out.textContent = said ? "\u201c" + said.textContent.trim() + "\u201d" : "";
    document.querySelectorAll(".turn.chosen").forEach(function (el) {
      el.classList.remove("chosen");
    });
    document.querySelectorAll("input.evidence-turn").forEach(function (other) {
      if (other.disabled || other.value === "") return;
      var el = document.getElementById("turn-" + other.value);
      if (el) el.classList.add("chosen");
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("button.evidence, li.turn");
    if (!target) return;
    var turn = target.classList.contains("turn")
      ? target.id.replace("turn-", "")
      : target.dataset.turn;
    highlight(turn);
    if (picking && target.classList.contains("turn")) {
      var input = picking.querySelector("input.evidence-turn");
      stopPicking();
      input.value = turn;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      return; // choosing, not listening: the player stays where it is
    }
    if (target.dataset.start !== undefined) seek(parseFloat(target.dataset.start));
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") stopPicking();
  });

  // Changing an item's status or its sentence marks it, so the manager sees what they are about
  // to change. The sentence can be chosen only while the item is met or partial.
  document.querySelectorAll(".decide select").forEach(function (select) {
    var item = select.closest(".item");
    var initial = select.value;
    var input = item.querySelector("input.evidence-turn");
    var button = null;
    function update() {
      var chosen = input && !input.disabled && input.value !== "";
      item.classList.toggle("changed", select.value !== initial || Boolean(chosen));
    }
    if (input) {
      button = document.createElement("button");
      button.type = "button";
      button.className = "pick-evidence";
      button.textContent = "Choose sentence";
      input.closest("label").insertAdjacentElement("afterend", button);
      button.addEventListener("click", function () {
        if (picking === item) stopPicking();
        else startPicking(item);
      });
      input.disabled = button.disabled = !EARNS[select.value];
      input.addEventListener("input", function () {
        showChoice(input);
        update();
      });
    }
    select.addEventListener("change", function () {
      if (input) {
        var earns = EARNS[select.value] === true;
        input.disabled = button.disabled = !earns;
        if (earns) {
          startPicking(item);
        } else {
          input.value = ""; // a missed or N/A item has no sentence that earned it
          if (picking === item) stopPicking();
          showChoice(input);
        }
      }
      update();
    });
  });
})();
