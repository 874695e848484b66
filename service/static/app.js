// The paperlens page. Everything that comes from the server or the address bar enters the page as
// text (text nodes, element properties), never as HTML: no paper record and no link can add markup.
"use strict";

const view = document.getElementById("view");
const message = document.getElementById("message");
const userInput = document.getElementById("user");
const tokenInput = document.getElementById("token");
const USER_KEY = "paperlens-user", TOKEN_KEY = "paperlens-token";
const enc = encodeURIComponent;
const user = () => userInput.value.trim();
const token = () => tokenInput.value.trim();
let marks = {likes: new Set(), dislikes: new Set()};

userInput.value = localStorage.getItem(USER_KEY) || "";
tokenInput.value = localStorage.getItem(TOKEN_KEY) || "";

// el("a", {href: "#", className: "x", dataset: {id}}, "text", child): children that are strings
// become text nodes; properties are set as properties (attributes for role and names with a dash).
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "role" || key.includes("-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.flat().filter(child => child !== null && child !== undefined && child !== false));
  return node;
}

// A paper's url becomes a link only when it is a web address: never javascript:, data: or the like.
function webUrl(text) {
  if (!text) return null;
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

class CallError extends Error {
  constructor(url, status, detail) { super(detail); this.url = url; this.status = status; }
}

async function call(url, options = {}) {
  const headers = new Headers(options.headers);
  if (url.startsWith("/users/") && token()) headers.set("Authorization", `Bearer ${token()}`);
  const response = await fetch(url, {...options, headers});
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : {};
  if (!response.ok) throw new CallError(url, response.status, typeof body.detail === "string" ? body.detail : response.statusText);
  return body;
}

const needsSignIn = error => error instanceof CallError && error.status === 401 && error.url.startsWith("/users/");

function signInHelp() {
  const problem = token() ? `The token for reader ${user()} was not accepted` : `Reader ${user()} needs their token`;
  return `${problem}: enter your token in the token field at the top of the page and press Sign in. ` +
    `No token yet? The admin issues one with POST /users/${user()}/token.`;
}

function say(text, kind = "error") {
  message.className = kind;
  message.textContent = text;
}

// A failed action: told in the message line; a missing token also moves the focus to its field.
function report(error) {
  if (needsSignIn(error)) {
    say(signInHelp());
    tokenInput.focus();
  } else {
    say(error.message);
  }
}

function remember() {
  for (const [key, value] of [[USER_KEY, user()], [TOKEN_KEY, token()]]) {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  }
}

function setMarks(record) {
  marks = {likes: new Set(record.likes), dislikes: new Set(record.dislikes)};
}

async function loadMarks() {
  setMarks({likes: [], dislikes: []});
  if (!user()) return;
  try {
    setMarks(await call(`/users/${enc(user())}`));
  } catch (error) {
    if (needsSignIn(error)) say(signInHelp());  // other problems (a bad name) are told when the reader acts
  }
}

const paperHash = id => "#" + new URLSearchParams({paper: id});
const paperLink = (id, text) => el("a", {href: paperHash(id)}, text);

function authorLine(authors = []) {
  return authors.slice(0, 6).join(", ") + (authors.length > 6 ? " et al." : "");
}

function metaLine(parts) {
  return el("div", {className: "meta"}, parts.filter(Boolean).join(" · "));
}

function markButton(kind, label) {
  return el("button", {type: "button", className: kind === "likes" ? "like" : "dislike", dataset: {kind}}, label);
}

function sourceLink(url) {
  const href = webUrl(url);
  return href ? el("a", {href, rel: "noreferrer"}, "source") : null;
}

function actions(paper, withMoreLink) {
  const links = [withMoreLink ? paperLink(paper.id, "more like this") : null, sourceLink(paper.url)].filter(Boolean);
  const separated = links.flatMap((link, i) => (i ? [" · ", link] : [link]));
  const node = el("div", {className: "actions"}, markButton("likes", "♥ like"),
                  markButton("dislikes", "✕ not for me"), separated);
  showMarks(node, paper.id);
  return node;
}

function why(paper) {
  const liked = paper.because.flatMap((id, i) => (i ? [", ", paperLink(id, id)] : [paperLink(id, id)]));
  const shared = paper.shared_terms?.length ? ` · shared: ${paper.shared_terms.join(", ")}` : "";
  return el("div", {className: "why"}, "because you liked ", liked, shared);
}

function paperItem(paper) {
  return el("div", {className: "paper", dataset: {id: paper.id}},
    el("h2", {}, paperLink(paper.id, paper.title)),
    metaLine([authorLine(paper.authors), paper.published || "n.d.", (paper.categories || []).join(" ")]),
    paper.because ? why(paper) : null,
    paper.abstract ? el("details", {}, el("summary", {}, "abstract"), paper.abstract) : null,
    actions(paper, true));
}

function paperList(papers, empty) {
  return papers.length ? papers.map(paperItem) : [el("p", {className: "note"}, empty)];
}

function showMarks(scope, id) {
  for (const button of scope.querySelectorAll("button[data-kind]")) {
    const on = marks[button.dataset.kind].has(id);
    button.classList.toggle("on", on);
    button.setAttribute("aria-pressed", String(on));
  }
}

view.addEventListener("click", async event => {
  const button = event.target.closest(".actions button");
  if (!button) return;
  if (!user()) {
    say("Choose a reader name first (top of the page).");
    userInput.focus();
    return;
  }
  const id = button.closest(".paper").dataset.id, kind = button.dataset.kind;
  try {
    setMarks(await call(`/users/${enc(user())}/${kind}/${enc(id)}`, {method: button.classList.contains("on") ? "DELETE" : "PUT"}));
    message.textContent = "";
    for (const paper of document.querySelectorAll(".paper")) {
      if (paper.dataset.id === id) showMarks(paper, id);
    }
  } catch (error) {
    report(error);
  }
});

function labelled(text, input, className = "") {
  return el("label", {className}, el("span", {className: "visually-hidden"}, text), input);
}

function searchForm(params) {
  const input = (name, props) => el("input", {name, value: params.get(name) || "", ...props});
  const modes = ["hybrid", "semantic", "keyword"].map(mode => el("option", {value: mode, selected: params.get("mode") === mode}, mode));
  const form = el("form", {className: "search", id: "search", role: "search"},
    labelled("Search for", input("q", {type: "search", placeholder: "find papers about...", required: true, autofocus: true}), "query"),
    labelled("Mode", el("select", {name: "mode"}, modes)),
    labelled("Category", input("category", {placeholder: "category (cs.CL)", size: 12})),
    labelled("Author", input("author", {placeholder: "author", size: 10})),
    labelled("Published since", input("since", {type: "date", title: "published since"})),
    el("button", {}, "Search"));
  form.addEventListener("submit", event => {
    event.preventDefault();
    location.hash = new URLSearchParams([...new FormData(form)].filter(([, value]) => value)).toString();
  });
  return form;
}

async function showSearch(params) {
  const results = el("div", {id: "results"});
  view.replaceChildren(searchForm(params), results);
  if (!params.get("q")) return;
  const query = new URLSearchParams([...params].filter(([, value]) => value));
  let body;
  try {
    body = await call(`/search?k=30&${query}`);
  } catch (error) {  // told under the form, which keeps what the reader typed
    results.replaceChildren(el("p", {className: "error"}, error.message));
    return;
  }
  results.replaceChildren(el("p", {className: "meta"}, `${body.results.length} papers for “${body.query}” (${body.mode})`),
                          ...paperList(body.results, "No papers found."));
}

async function showPaper(id) {
  const [paper, similar] = await Promise.all([call(`/papers/${enc(id)}`), call(`/papers/${enc(id)}/similar?k=10`)]);
  view.replaceChildren(
    el("h2", {}, paper.title),
    metaLine([(paper.authors || []).join(", "), paper.published || "n.d.", (paper.categories || []).join(" "), paper.id]),
    el("div", {className: "paper", dataset: {id: paper.id}}, el("p", {className: "abstract-full"}, paper.abstract), actions(paper, false)),
    el("h3", {}, "More like this"),
    ...paperList(similar.results, "No similar papers."));
}

async function showForYou() {
  if (!user()) {
    view.replaceChildren(el("p", {className: "note"}, "Choose a reader name (top of the page), like a few papers, and your recommendations appear here."));
    return;
  }
  const body = await call(`/users/${enc(user())}/recommendations?k=20`);
  view.replaceChildren(
    el("h2", {}, `For you, ${user()}`),
    el("p", {className: "meta"}, el("a", {href: `/users/${enc(user())}/feed.atom`}, "Atom feed"), ` · ${marks.likes.size} liked`),
    ...(body.reason ? [el("p", {className: "note"}, body.reason)] : paperList(body.results, "Nothing new to recommend.")));
}

function showImport() {
  const result = el("div", {id: "import-result"});
  const form = el("form", {id: "import"},
    el("label", {}, "BibTeX file ", el("input", {type: "file", name: "file", accept: ".bib,.bibtex,.txt", required: true})),
    " ", el("button", {}, "Import"));
  view.replaceChildren(
    el("h2", {}, "Import your library"),
    el("p", {className: "note"}, "A BibTeX export (Zotero, Mendeley...): papers found in the index become likes of ",
       el("b", {}, user() || "?"), "."),
    form, result);
  form.addEventListener("submit", async event => {
    event.preventDefault();
    if (!user()) {
      result.replaceChildren(el("p", {className: "error"}, "Choose a reader name first."));
      return;
    }
    try {
      const body = await call(`/users/${enc(user())}/import`, {method: "POST", body: new FormData(form)});
      const unmatched = body.unmatched_entries.length
        ? el("details", {}, el("summary", {}, "not found"), el("ul", {}, body.unmatched_entries.map(entry => el("li", {}, entry))))
        : null;
      result.replaceChildren(el("p", {}, `${body.matched} matched, ${body.unmatched} not in the index.`), unmatched ?? "");
      await loadMarks();
    } catch (error) {
      result.replaceChildren(el("p", {className: "error"}, needsSignIn(error) ? signInHelp() : error.message));
    }
  });
}

async function route() {
  const params = new URLSearchParams(location.hash.slice(1));
  message.textContent = "";
  try {
    await loadMarks();
    if (params.has("paper")) await showPaper(params.get("paper"));
    else if (location.hash === "#foryou") await showForYou();
    else if (location.hash === "#import") showImport();
    else await showSearch(params);
  } catch (error) {
    if (needsSignIn(error)) say(signInHelp());
    view.replaceChildren(el("p", {className: "error"}, needsSignIn(error) ? "Sign in (top of the page) to see this page." : error.message));
  }
}

userInput.addEventListener("change", () => { remember(); route(); });
tokenInput.addEventListener("change", remember);
document.getElementById("sign-in").addEventListener("submit", event => {
  event.preventDefault();
  remember();
  route();
});
document.getElementById("sign-out").addEventListener("click", () => {
  userInput.value = tokenInput.value = "";
  remember();
  route().then(() => say("Signed out: this browser no longer keeps a reader name or token.", "note"));
});
window.addEventListener("hashchange", route);
route();
