// "Try it" on /docs: sends an operation's form to the API with the token typed at the top.
// The token is sent as a header only; cookies are never used.
"use strict";

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (error) {
    return text;
  }
}

async function tryIt(form) {
  const data = new FormData(form);
  let path = form.dataset.path;
  const query = new URLSearchParams();
  for (const [name, value] of data) {
    if (name.startsWith("path:")) {
      path = path.replace("{" + name.slice(5) + "}", encodeURIComponent(value));
    } else if (name.startsWith("query:") && value) {
      query.append(name.slice(6), value);
    }
  }
  const headers = {};
  const token = document.getElementById("token").value.trim();
  if (token) {
    headers.Authorization = "Bearer " + token;
  }
  const request = { method: form.dataset.method, headers: headers, credentials: "omit" };
  if (data.has("body")) {
    headers["Content-Type"] = "application/json";
    request.body = data.get("body");
  }
  const answer = form.querySelector(".answer");
  answer.textContent = "…";
  try {
    const url = path + (query.toString() ? "?" + query.toString() : "");
    const response = await fetch(url, request);
    const text = await response.text();
    answer.textContent = response.status + " " + response.statusText + "\n" + pretty(text);
    answer.dataset.status = String(response.status);
  } catch (error) {
    answer.textContent = String(error);
  }
}

document.querySelectorAll("form.try").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    tryIt(form);
  });
});
