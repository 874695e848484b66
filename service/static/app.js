// The paperlens page. Everything that comes from the server or the address bar enters the page as
// text (text nodes, element properties), never as HTML: no paper record and no link can add markup.
"use strict";

const view = document.getElementById("view");
const message = document.getElementById("message");
const userInput = document.getElementById("user");
const tokenInput = document.getElementById("token");
const USER_KEY = "paperlens-user", TOKEN_KEY = "paperlens-token";
const PAGE = 20, SIMILAR_PAGE = 10;  // papers a list shows at once, and adds on "more"
const MAX_QUERY = 20000;  // the API's limit on a query: a pasted abstract or paragraph fits
const MAX_HIGHLIGHTED = 16;  // a longer query (a pasted abstract) would mark half of every abstract
const FOLD_AT = 300;  // abstracts longer than this show their first lines and a button for the rest
const enc = encodeURIComponent;
const user = () => userInput.value.trim();
const token = () => tokenInput.value.trim();
let marks = {likes: new Set(), dislikes: new Set()};
let folds = 0;  // ids for the folded abstracts' aria-controls

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

// A call to the API; the reader's token goes with every /users/ call. Answers that are not 2xx throw.
async function request(url, options = {}) {
  const headers = new Headers(options.headers);
  if (url.startsWith("/users/") && token()) headers.set("Authorization", `Bearer ${token()}`);
  const response = await fetch(url, {...options, headers});
  if (!response.ok) {
    const body = response.headers.get("content-type")?.includes("json") ? await response.json() : {};
    throw new CallError(url, response.status, typeof body.detail === "string" ? body.detail : response.statusText);
  }
  return response;
}

async function call(url, options = {}) {
  const response = await request(url, options);
  return response.headers.get("content-type")?.includes("json") ? response.json() : {};
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

// --- What a paper shows: authors, date, categories, links, highlighted words, a folded abstract ---

const paperHash = id => "#" + new URLSearchParams({paper: id});
const paperLink = (id, text) => el("a", {href: paperHash(id)}, text);
const ARXIV_ID = /^(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?\/\d{7})(?:v\d+)?$/i;
const DOI = /^10\.\d{4,9}\/\S+$/;

function authorLine(authors = [], few = 3) {
  return authors.length > few + 1 ? `${authors.slice(0, few).join(", ")} et al.` : authors.join(", ");
}

// "A, B, C et al. · 2024-05-30 · cs.CL cs.LG · venue": strings, or nodes (the date is a <time>).
function metaLine(parts) {
  return el("div", {className: "meta"}, separated(parts.filter(Boolean)));
}

const dateOf = published => (published ? el("time", {dateTime: published}, published) : "n.d.");

function venueOf(paper) {
  const venue = paper.extra?.venue ?? paper.extra?.["journal-ref"];
  return typeof venue === "string" ? venue : null;
}

function hostOf(text) {
  const href = webUrl(text);
  return href ? new URL(href) : null;
}

// The arXiv id of a paper: its own id, the one its record names, or the one in an arxiv.org url.
function arxivIdOf(paper) {
  const url = hostOf(paper.url);
  const onArxiv = url && /(^|\.)arxiv\.org$/.test(url.hostname);
  const fromUrl = onArxiv ? url.pathname.replace(/^\/(abs|pdf)\//, "").replace(/\.pdf$/, "") : "";
  for (const candidate of [paper.extra?.arxiv_id, paper.id, fromUrl]) {
    const match = typeof candidate === "string" && candidate.trim().match(ARXIV_ID);
    if (match) return match[1];
  }
  return null;
}

function doiOf(paper) {
  const url = hostOf(paper.url);
  let fromUrl = "";
  try {
    if (url && /^(dx\.)?doi\.org$/.test(url.hostname)) fromUrl = decodeURIComponent(url.pathname.slice(1));
  } catch {}  // a url whose escapes are broken names no DOI
  for (const candidate of [paper.extra?.doi, paper.id, fromUrl]) {
    const text = typeof candidate === "string" ? candidate.trim() : "";
    const doi = text.replace(/^(doi:|https?:\/\/(dx\.)?doi\.org\/)/i, "");
    if (DOI.test(doi)) return doi;
  }
  return null;
}

// arXiv abstract and PDF for an arXiv paper, the DOI's page for a paper with one, else its source url.
function paperLinks(paper) {
  const arxiv = arxivIdOf(paper), doi = doiOf(paper), links = [];
  if (arxiv) links.push(el("a", {href: `https://arxiv.org/abs/${arxiv}`, rel: "noreferrer"}, "arXiv"),
                        el("a", {href: `https://arxiv.org/pdf/${arxiv}`, rel: "noreferrer"}, "PDF"));
  const doiPage = doi && `https://doi.org/${doi.split("/").map(enc).join("/")}`;
  if (doi) links.push(el("a", {href: doiPage, rel: "noreferrer"}, "DOI"));
  const source = webUrl(paper.url);
  if (!arxiv && !doi && source) links.push(el("a", {href: source, rel: "noreferrer"}, "source"));
  return links;
}

// "-" is left as it is: outside a class it is literal, and "\-" is an error under the u flag.
const escapeRegExp = text => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// The words to mark, each matching its other forms too (decoding: decode, decoder; models: model).
function highlighter(terms) {
  const words = [...new Set((terms || []).map(term => String(term).toLowerCase()).filter(term => term.length > 1))];
  if (!words.length || words.length > MAX_HIGHLIGHTED) return null;
  const stems = words.map(word => {
    const stem = word.replace(/(ations?|ings?|ions?|ed|es|ies|s|y|al|ly|ers?)$/, "");
    return escapeRegExp(stem.length >= 4 ? stem : word);
  });
  try {
    return new RegExp(`(?<![\\p{L}\\p{N}])(?:${stems.join("|")})[\\p{L}\\p{N}]*`, "giu");
  } catch {
    return null;  // words no pattern can hold are shown unmarked
  }
}

// Text with the matching words in <mark>: text nodes and elements only.
function highlighted(text, pattern) {
  if (!pattern || !text) return [text || ""];
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) nodes.push(text.slice(last, match.index));
    nodes.push(el("mark", {}, match[0]));
    last = match.index + match[0].length;
  }
  nodes.push(text.slice(last));
  return nodes;
}

function foldedAbstract(text, pattern) {
  const id = `abstract-${++folds}`;
  const body = el("p", {className: "abstract", id}, highlighted(text, pattern));
  if (text.length <= FOLD_AT) return body;
  body.classList.add("folded");
  const toggle = el("button", {type: "button", className: "fold", "aria-expanded": "false", "aria-controls": id},
                    "show the whole abstract");
  toggle.addEventListener("click", () => {
    const open = body.classList.toggle("folded") === false;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "fold the abstract" : "show the whole abstract";
  });
  return el("div", {className: "abstract-box"}, body, toggle);
}

function markButton(kind, label) {
  return el("button", {type: "button", className: kind === "likes" ? "like" : "dislike", dataset: {kind}}, label);
}

function separated(nodes) {
  return nodes.flatMap((node, i) => (i ? [" · ", node] : [node]));
}

function actions(paper, withMoreLink) {
  const links = [withMoreLink ? paperLink(paper.id, "more like this") : null, ...paperLinks(paper)].filter(Boolean);
  const node = el("div", {className: "actions"}, markButton("likes", "♥ like"),
                  markButton("dislikes", "✕ not for me"), separated(links));
  showMarks(node, paper.id);
  return node;
}

function why(paper, likedTitles = {}) {
  const liked = paper.because.map(id => paperLink(id, likedTitles[id] || id));
  const shared = paper.shared_terms?.length ? ` · shared: ${paper.shared_terms.join(", ")}` : "";
  return el("div", {className: "why"}, "because you liked ", separated(liked), shared);
}

// One paper of a list. `context`: the query's words to mark (else the paper's shared terms), and for
// recommendations the titles of the liked papers that explain it.
function paperItem(paper, context = {}) {
  const pattern = context.pattern !== undefined ? context.pattern : highlighter(paper.shared_terms);
  return el("article", {className: "paper", dataset: {id: paper.id}},
    el("h2", {}, paper.new ? el("span", {className: "badge"}, "new") : null, paper.new ? " " : null,
       el("a", {href: paperHash(paper.id)}, highlighted(paper.title, pattern))),
    metaLine([authorLine(paper.authors), dateOf(paper.published), (paper.categories || []).join(" "), venueOf(paper)]),
    context.likedTitles && paper.because ? why(paper, context.likedTitles) : null,
    paper.abstract ? foldedAbstract(paper.abstract, pattern) : null,
    actions(paper, true));
}

function showMarks(scope, id) {
  for (const button of scope.querySelectorAll("button[data-kind]")) {
    const on = marks[button.dataset.kind].has(id);
    button.classList.toggle("on", on);
    button.setAttribute("aria-pressed", String(on));
  }
}

// --- Lists that grow: the first page, then "more" at the end until a page comes back short ---

// `load(offset)` answers a page ({results, ...}); `render(paper, body)` makes its item. Resolves to
// the first page's body once it is shown.
async function growingList(container, size, load, render, empty) {
  const first = await load(0);
  if (!first.results.length) {
    container.replaceChildren(el("p", {className: "note"}, empty));
    return first;
  }
  container.replaceChildren(...first.results.map(paper => render(paper, first)));
  if (first.results.length < size) return first;
  let offset = size;
  const more = el("button", {type: "button", className: "more"}, "more");
  more.addEventListener("click", async () => {
    more.disabled = true;
    more.textContent = "loading…";
    try {
      const body = await load(offset);
      offset += size;
      const items = body.results.map(paper => render(paper, body));
      more.before(...items);
      if (items.length) items[0].querySelector("h2 a").focus();  // the keyboard goes on where the list does
      if (body.results.length < size) {
        const end = el("p", {className: "note", tabIndex: -1}, "No more papers.");
        more.replaceWith(end);
        if (!items.length) end.focus();
      }
    } catch (error) {
      report(error);
    } finally {
      more.disabled = false;
      more.textContent = "more";
    }
  });
  container.append(more);
  return first;
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
    const method = button.classList.contains("on") ? "DELETE" : "PUT";
    setMarks(await call(`/users/${enc(user())}/${kind}/${enc(id)}`, {method}));
    message.textContent = "";
    for (const paper of document.querySelectorAll(".paper")) {
      if (paper.dataset.id === id) showMarks(paper, id);
    }
  } catch (error) {
    report(error);
  }
});

// --- Search ---

function field(label, control, className = "") {
  return el("label", {className: `field ${className}`}, el("span", {}, label), control);
}

function options(name, values, chosen) {
  return el("select", {name}, values.map(([value, text]) => el("option", {value, selected: chosen === value}, text)));
}

// The query box grows with what is typed or pasted; Enter searches, Shift+Enter starts a new line.
function queryBox(value) {
  const box = el("textarea", {name: "q", rows: 1, maxLength: MAX_QUERY, required: true, autofocus: true, value,
                              placeholder: "find papers about... or paste an abstract", spellcheck: false});
  const count = el("span", {className: "count", id: "query-count"});
  const grow = () => {
    if (!CSS.supports("field-sizing", "content")) {
      box.style.height = "auto";
      box.style.height = `${Math.min(box.scrollHeight + 2, window.innerHeight * 0.5)}px`;
    }
    const length = box.value.length, most = MAX_QUERY.toLocaleString("en");
    count.textContent = length >= MAX_QUERY ? `cut to ${most} characters, the most a query may have`
      : length > 1000 ? `${length.toLocaleString("en")} of ${most} characters` : "";
  };
  box.addEventListener("input", grow);
  box.addEventListener("keydown", event => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      box.form.requestSubmit();
    }
  });
  box.setAttribute("aria-describedby", "query-count");
  requestAnimationFrame(grow);
  return [box, count];
}

function searchForm(params) {
  const input = (name, props) => el("input", {name, value: params.get(name) || "", ...props});
  const [box, count] = queryBox(params.get("q") || "");
  const form = el("form", {className: "search", id: "search", role: "search"},
    el("label", {className: "query"}, el("span", {className: "visually-hidden"}, "Search for"), box),
    el("button", {className: "go"}, "Search"),
    count,
    el("div", {className: "filters"},
      field("mode", options("mode", [["hybrid", "hybrid"], ["semantic", "by meaning"], ["keyword", "by words"]],
                            params.get("mode") || "hybrid")),
      field("sort", options("sort", [["relevance", "relevance"], ["date", "newest first"]],
                            params.get("sort") || "relevance")),
      field("category", input("category", {placeholder: "cs.CL", size: 9})),
      field("author", input("author", {placeholder: "part of a name", size: 12})),
      field("published from", input("since", {type: "date"})),
      field("to", input("until", {type: "date"}))));
  form.addEventListener("submit", event => {
    event.preventDefault();
    const chosen = [...new FormData(form)].filter(([name, value]) =>
      value && !(name === "mode" && value === "hybrid") && !(name === "sort" && value === "relevance"));
    location.hash = new URLSearchParams(chosen).toString();
  });
  return form;
}

const shortened = (text, length = 100) => (text.length > length ? `${text.slice(0, length).trimEnd()}…` : text);

async function showSearch(params) {
  const summary = el("p", {className: "meta", id: "summary"});
  const results = el("div", {id: "results"});
  const active = document.activeElement;
  const focusHere = !active || active === document.body || view.contains(active);  // not the header's fields
  const form = searchForm(params);
  view.replaceChildren(form, summary, results);
  if (focusHere) form.elements.q.focus();  // a search from the box keeps the keyboard there
  if (!params.get("q")) return;
  const query = new URLSearchParams([...params].filter(([name, value]) =>
    value && ["q", "mode", "sort", "category", "author", "since", "until"].includes(name)));
  let pattern = null;
  try {
    const first = await growingList(results, PAGE, async offset => {
      const body = await call(`/search?k=${PAGE}&offset=${offset}&${query}`);
      if (!offset) pattern = highlighter(body.terms);
      return body;
    }, paper => paperItem(paper, {pattern}), "No papers found.");
    const order = first.sort === "date" ? "newest first" : "by relevance";
    summary.textContent = `Papers for “${shortened(first.query)}” · ${first.mode} · ${order}`;
  } catch (error) {  // told under the form, which keeps what the reader typed
    results.replaceChildren(el("p", {className: "error"}, error.message));
  }
}

// --- One paper and more like it ---

async function showPaper(id) {
  const paper = await call(`/papers/${enc(id)}`);
  const similar = el("div", {id: "similar"});
  view.replaceChildren(
    el("h2", {}, paper.title),
    metaLine([(paper.authors || []).join(", "), dateOf(paper.published), (paper.categories || []).join(" "),
              venueOf(paper), paper.id]),
    el("div", {className: "paper", dataset: {id: paper.id}}, el("p", {className: "abstract-full"}, paper.abstract),
       actions(paper, false)),
    el("h3", {}, "More like this"),
    similar);
  const page = offset => call(`/papers/${enc(id)}/similar?k=${SIMILAR_PAGE}&offset=${offset}`);
  await growingList(similar, SIMILAR_PAGE, page, item => paperItem(item), "No similar papers.");
}

// --- The reader's views ---

function chooseReader(what) {
  const text = `Choose a reader name (top of the page), like a few papers, and ${what}`;
  view.replaceChildren(el("p", {className: "note"}, text));
}

// A recommended paper, with the titles of the liked papers that explain it.
const explained = (paper, body) => paperItem(paper, {likedTitles: body.liked_titles});

async function showForYou() {
  if (!user()) return chooseReader("your recommendations appear here.");
  const list = el("div", {id: "feed"});
  const heading = el("h2", {}, `For you, ${user()}`);
  view.replaceChildren(heading,
    el("p", {className: "meta"}, el("a", {href: `/users/${enc(user())}/feed.atom`}, "Atom feed"),
       ` · ${marks.likes.size} liked · `, el("a", {href: "#library"}, "export or import your library")),
    list);
  const page = offset => call(`/users/${enc(user())}/recommendations?k=${PAGE}&offset=${offset}`);
  const first = await growingList(list, PAGE, page, explained, "Nothing new to recommend.");
  if (first.reason) list.replaceChildren(el("p", {className: "note"}, first.reason));
}

const WINDOWS = [["1", "last day"], ["3", "3 days"], ["7", "7 days"]];

async function showToday(params) {
  if (!user()) return chooseReader("today's papers are ranked for you here.");
  const days = WINDOWS.some(([value]) => value === params.get("days")) ? params.get("days") : "3";
  const summary = el("p", {className: "summary", id: "today-summary", role: "status"});
  const list = el("div", {id: "today"});
  view.replaceChildren(
    el("h2", {}, `Today for ${user()}`),
    el("nav", {className: "windows", "aria-label": "how many days"}, WINDOWS.map(([value, text]) =>
      el("a", {href: `#today&days=${value}`, ...(value === days ? {"aria-current": "true"} : {})}, text))),
    summary, list);
  const page = offset => call(`/users/${enc(user())}/today?days=${days}&k=${PAGE}&offset=${offset}`);
  const first = await growingList(list, PAGE, page, explained,
                                  `No papers published since ${days === "1" ? "yesterday" : `${days} days ago`}.`);
  const papers = first.total === 1 ? "1 paper" : `${first.total} papers`;
  summary.replaceChildren(el("strong", {}, `${first.new} new since your last visit`),
                          ` · ${papers} published since ${first.since}`);
  if (first.reason) summary.append(el("span", {className: "note"}, ` · ${first.reason}`));
}

async function download(suffix) {
  const response = await request(`/users/${enc(user())}/likes.${suffix}`);
  const link = el("a", {href: URL.createObjectURL(await response.blob()), download: `${user()}-likes.${suffix}`});
  link.click();  // never put in the page: a blob: link is no web address
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

function exportButtons(result) {
  const button = (suffix, text) => {
    const node = el("button", {type: "button", id: `export-${suffix}`}, text);
    node.addEventListener("click", async () => {
      if (!user()) return result.replaceChildren(el("p", {className: "error"}, "Choose a reader name first."));
      try {
        await download(suffix);
        const format = text.replace("Download ", "");
        result.replaceChildren(el("p", {}, `${marks.likes.size} liked papers downloaded as ${format}.`));
      } catch (error) {
        result.replaceChildren(el("p", {className: "error"}, needsSignIn(error) ? signInHelp() : error.message));
      }
    });
    return node;
  };
  return el("div", {className: "exports"}, button("bib", "Download BibTeX"), " ", button("json", "Download CSL-JSON"));
}

function showLibrary() {
  const result = el("div", {id: "import-result", role: "status"});
  const exported = el("div", {id: "export-result", role: "status"});
  const form = el("form", {id: "import"},
    field("Library file", el("input", {type: "file", name: "file", accept: ".bib,.bibtex,.ris,.json,.txt",
                                        required: true})),
    " ", el("button", {}, "Import"));
  view.replaceChildren(
    el("h2", {}, "Your library"),
    el("h3", {}, "Import"),
    el("p", {className: "note"}, "A BibTeX, RIS or CSL-JSON export (Zotero, Mendeley, EndNote, JabRef...): papers " +
       "found in the index become likes of ",
       el("b", {}, user() || "?"), "."),
    form, result,
    el("h3", {}, "Export"),
    el("p", {className: "note"}, "The papers you liked, for your reference manager."),
    exportButtons(exported), exported);
  form.addEventListener("submit", async event => {
    event.preventDefault();
    if (!user()) {
      result.replaceChildren(el("p", {className: "error"}, "Choose a reader name first."));
      return;
    }
    try {
      const body = await call(`/users/${enc(user())}/import`, {method: "POST", body: new FormData(form)});
      const unmatched = body.unmatched_entries.length
        ? el("details", {}, el("summary", {}, "not found"),
             el("ul", {}, body.unmatched_entries.map(entry => el("li", {}, entry))))
        : null;
      const skipped = (body.skipped || []).length
        ? el("details", {}, el("summary", {}, "skipped (not papers)"),
             el("ul", {}, body.skipped.map(entry => el("li", {}, `line ${entry.line}: ${entry.key}: ${entry.reason}`))))
        : null;
      const counts = `${body.matched} matched, ${body.unmatched} not in the index.`;
      result.replaceChildren(el("p", {}, counts), unmatched ?? "", skipped ?? "");
      await loadMarks();
    } catch (error) {
      result.replaceChildren(el("p", {className: "error"}, needsSignIn(error) ? signInHelp() : error.message));
    }
  });
}

// --- Which view the address asks for ---

function viewName(params) {
  if (params.has("paper")) return "paper";
  for (const name of ["today", "foryou"]) if (params.has(name)) return name;
  if (params.has("library") || params.has("import")) return "library";
  return "search";
}

async function route() {
  const params = new URLSearchParams(location.hash.slice(1));
  const name = viewName(params);
  message.textContent = "";
  view.setAttribute("aria-busy", "true");  // until the view has its first answers
  for (const link of document.querySelectorAll("nav[aria-label=pages] a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    await loadMarks();
    if (name === "paper") await showPaper(params.get("paper"));
    else if (name === "today") await showToday(params);
    else if (name === "foryou") await showForYou();
    else if (name === "library") showLibrary();
    else await showSearch(params);
  } catch (error) {
    if (needsSignIn(error)) say(signInHelp());
    const text = needsSignIn(error) ? "Sign in (top of the page) to see this page." : error.message;
    view.replaceChildren(el("p", {className: "error"}, text));
  } finally {
    view.setAttribute("aria-busy", "false");
  }
}

document.querySelector("a.skip").addEventListener("click", event => {
  event.preventDefault();  // the address names the view: a jump to #view would leave it
  view.focus();
});
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
