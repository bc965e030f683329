// The marketer console: the audience of a segment while its form is edited, and only the
// campaign fields that the chosen kind takes.
"use strict";

function livePreview(form) {
  const size = document.getElementById("audience-size");
  const sample = document.getElementById("audience-sample");
  const rule = document.getElementById("composed-rule");
  let timer = 0;
  let latest = 0;

  async function count() {
    const asked = ++latest;
    let answer;
    try {
      const response = await fetch(form.dataset.preview, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
      });
      answer = await response.json();
    } catch {
      // Not the console's JSON: the page's token expired, or the network failed.
      answer = { error: form.dataset.failed };
    }
    if (asked !== latest) return; // a newer edit is already being counted
    size.classList.toggle("error", Boolean(answer.error));
    sample.replaceChildren();
    if (answer.error) {
      size.textContent = answer.error;
      rule.textContent = "";
      return;
    }
    size.textContent = answer.size_text;
    size.dataset.size = answer.size;
    for (const member of answer.sample) {
      const item = document.createElement("li");
      item.textContent = member;
      sample.append(item);
    }
    rule.textContent = JSON.stringify(answer.rule, null, 2);
  }

  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(count, 300);
  };
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
}

function kindFields(form) {
  const kind = form.querySelector("#kind");
  const show = () => {
    for (const field of form.querySelectorAll("[data-kinds]")) {
      field.hidden = !field.dataset.kinds.split(" ").includes(kind.value);
    }
  };
  kind.addEventListener("change", show);
  show();
}

document.addEventListener("DOMContentLoaded", () => {
  const segment = document.getElementById("segment-form");
  if (segment) livePreview(segment);
  const campaign = document.getElementById("campaign-form");
  if (campaign) kindFields(campaign);
  const reward = document.getElementById("reward-form");
  if (reward) kindFields(reward);
});
