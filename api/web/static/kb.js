// As-you-type suggestions for the search box: an enhancement only (the page works without it).
(function () {
  "use strict";
  var box = document.querySelector("input[data-suggest]");
  if (!box || !window.fetch) { return; }
  var list = document.getElementById(box.getAttribute("list"));
  var timer = null;
  var asked = "";
  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var text = box.value.trim();
      if (text.length < 3 || text === asked) { return; }
      asked = text;
      fetch(box.dataset.suggest + "?q=" + encodeURIComponent(text), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (items) {
          list.textContent = "";
          items.forEach(function (item) {
            var option = document.createElement("option");
            option.value = item.title;
            list.appendChild(option);
          });
        })
        .catch(function () { /* offline: no suggestions, the form still works */ });
    }, 300);
  });
}());

// The article editor's live preview: the server renders and sanitises, as it will for readers.
(function () {
  "use strict";
  var editor = document.querySelector("textarea[data-preview]");
  var main = document.getElementById("main");
  if (!editor || !window.fetch || !main) { return; }
  var target = document.getElementById(editor.dataset.preview);
  var timer = null;
  editor.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var form = new URLSearchParams({ markdown: editor.value, csrf: main.dataset.csrf });
      fetch("/agent/preview", { method: "POST", body: form, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null) { target.innerHTML = html; } })
        .catch(function () { /* keep the last preview */ });
    }, 400);
  });
}());
