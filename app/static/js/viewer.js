// The document viewer (templates/documents/_viewer.html): PDF.js draws a PDF page on a canvas;
// an image, or a TIFF's PNG pages, is an img. Both get page turning, zoom, fit width, rotation,
// panning, and keys that act only while focus is inside the viewer (plus Alt+PageDown/PageUp from
// anywhere: no text field uses them), so a clerk's typing is never taken. Page, zoom, rotation
// and scroll place are kept per user and document in localStorage, so a save, a reload or a
// later visit finds the document where the clerk left it. Fetching and drawing a page:
// viewer-sources.js.

import { imageSource, pdfSource } from "./viewer-sources.js";

const ZOOM_STEPS = [0.25, 0.33, 0.5, 0.67, 0.75, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5];
const MIN_ZOOM = ZOOM_STEPS[0];
const MAX_ZOOM = ZOOM_STEPS[ZOOM_STEPS.length - 1];
const SHEET_MARGIN = 16; // px around the page inside the stage (the sheet's margin, both sides)
const TYPING = "input, textarea, select, [contenteditable=''], [contenteditable='true']";
const ready = new WeakSet();

function clampZoom(zoom) {
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));
}

// --- remembered state ---------------------------------------------------------------------------

function storageKey(root) {
  return `portal.viewer.u${root.dataset.userId}.d${root.dataset.documentId}`;
}

function loadState(root, pageCount) {
  const state = { page: 1, zoom: 1, rotation: 0, fit: true, centre: null };
  let saved = null;
  try {
    saved = JSON.parse(window.localStorage.getItem(storageKey(root)) || "null");
  } catch (error) {
    saved = null; // private mode or a damaged entry: start from the first page
  }
  if (!saved || typeof saved !== "object") return state;
  if (Number.isInteger(saved.page)) state.page = Math.min(pageCount, Math.max(1, saved.page));
  if (typeof saved.zoom === "number" && Number.isFinite(saved.zoom)) state.zoom = clampZoom(saved.zoom);
  if ([0, 90, 180, 270].includes(saved.rotation)) state.rotation = saved.rotation;
  state.fit = saved.fit === true;
  const { centre } = saved;
  if (centre && [centre.x, centre.y].every((v) => typeof v === "number" && v >= 0 && v <= 1)) {
    state.centre = { x: centre.x, y: centre.y };
  }
  return state;
}

function saveState(root, state) {
  try {
    window.localStorage.setItem(storageKey(root), JSON.stringify(state));
  } catch (error) {
    // storage full or forbidden: the viewer still works, it just forgets
  }
}

// --- the viewer ------------------------------------------------------------------------------------

class Viewer {
  constructor(root) {
    this.root = root;
    this.stage = root.querySelector(".doc-viewer-stage");
    this.sheet = root.querySelector(".doc-viewer-sheet");
    this.pageInput = root.querySelector("#viewer-page");
    this.pageCount = root.querySelector("#viewer-page-count");
    this.zoomOutput = root.querySelector("#viewer-zoom");
    this.message = root.querySelector("#viewer-message");
    this.drawing = Promise.resolve();
    this.wanted = 0; // the number of the latest drawing asked for; older ones are dropped
  }

  async start() {
    const kind = this.root.dataset.kind;
    if (kind !== "pdf" && kind !== "image" && kind !== "pages") return;
    try {
      this.source = kind === "pdf" ? await pdfSource(this.root) : imageSource(this.root);
    } catch (error) {
      this.fail(`The document could not be opened here (${error.message}).`);
      return;
    }
    this.state = loadState(this.root, this.source.count);
    this.pageCount.textContent = `/ ${this.source.count}`;
    this.root.querySelector(".doc-viewer-toolbar").hidden = false;
    this.root.classList.add("is-ready");
    this.listen();
    await this.render({ centre: this.state.centre }); // where the clerk was looking last time
  }

  say(text) {
    this.message.textContent = text;
  }

  // The toolbar may be hidden (nothing could be opened): the message carries its own link.
  fail(text) {
    const link = document.createElement("a");
    link.href = this.root.dataset.src;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "Open the original file";
    this.message.replaceChildren(`${text} `, link, ".");
  }

  listen() {
    this.root.querySelector(".doc-viewer-toolbar").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) this.act(button.dataset.action);
    });
    this.pageInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault(); // never submits a form around the viewer
        this.goToTyped();
      } else if (event.key === "Escape") {
        this.pageInput.value = String(this.state.page);
      }
    });
    this.pageInput.addEventListener("change", () => this.goToTyped());
    this.root.addEventListener("keydown", (event) => this.onKey(event));
    document.addEventListener("keydown", (event) => this.onAnyKey(event));
    this.stage.addEventListener("wheel", (event) => this.onWheel(event), { passive: false });
    this.enablePanning();
    let scrolled = null;
    this.stage.addEventListener("scroll", () => { // remembered once scrolling settles
      clearTimeout(scrolled);
      scrolled = setTimeout(() => {
        this.state.centre = this.centre();
        saveState(this.root, this.state);
      }, 250);
    }, { passive: true });
    let width = this.stage.clientWidth;
    new ResizeObserver(() => { // a narrower window refits the page; the first call is no change
      if (this.stage.clientWidth === width) return;
      width = this.stage.clientWidth;
      if (this.state.fit) this.render({ keep: true });
    }).observe(this.stage);
  }

  // Keys typed in a field (the clerk's form, or the page box) are the clerk's, never the viewer's.
  onKey(event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest(TYPING)) return;
    const actions = {
      PageDown: "next", PageUp: "prev", "+": "zoom-in", "=": "zoom-in", "-": "zoom-out",
      _: "zoom-out", 0: "fit", 1: "actual", r: "rotate", R: "rotate-back",
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    this.act(action);
  }

  onAnyKey(event) {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (event.key !== "PageDown" && event.key !== "PageUp") return;
    if (!this.root.isConnected) return;
    event.preventDefault();
    this.act(event.key === "PageDown" ? "next" : "prev");
  }

  onWheel(event) {
    if (!event.ctrlKey) return; // a plain wheel scrolls the page as always
    event.preventDefault();
    this.act(event.deltaY < 0 ? "zoom-in" : "zoom-out");
  }

  enablePanning() {
    let start = null;
    this.stage.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || event.pointerType !== "mouse") return;
      start = { x: event.clientX, y: event.clientY, left: this.stage.scrollLeft, top: this.stage.scrollTop };
      this.stage.setPointerCapture(event.pointerId);
      this.stage.classList.add("is-dragging");
    });
    this.stage.addEventListener("pointermove", (event) => {
      if (!start) return;
      this.stage.scrollLeft = start.left - (event.clientX - start.x);
      this.stage.scrollTop = start.top - (event.clientY - start.y);
    });
    const stop = () => {
      start = null;
      this.stage.classList.remove("is-dragging");
    };
    this.stage.addEventListener("pointerup", stop);
    this.stage.addEventListener("pointercancel", stop);
  }

  goToTyped() {
    const typed = this.pageInput.value.trim();
    const number = /^\d+$/.test(typed) ? Number(typed) : NaN;
    if (!(number >= 1 && number <= this.source.count)) {
      this.say(`There is no page “${typed}”: type a number from 1 to ${this.source.count}.`);
      this.pageInput.value = String(this.state.page);
      return;
    }
    this.say("");
    if (number !== this.state.page) this.change({ page: number }); // Enter, then change on blur
  }

  act(action) {
    const { page, zoom, rotation } = this.state;
    const moves = {
      next: () => this.change({ page: Math.min(this.source.count, page + 1) }),
      prev: () => this.change({ page: Math.max(1, page - 1) }),
      "zoom-in": () => this.change({ zoom: ZOOM_STEPS.find((z) => z > zoom + 0.001) || MAX_ZOOM, fit: false }),
      "zoom-out": () => this.change({ zoom: [...ZOOM_STEPS].reverse().find((z) => z < zoom - 0.001) || MIN_ZOOM, fit: false }),
      actual: () => this.change({ zoom: 1, fit: false }),
      fit: () => this.change({ fit: true }),
      rotate: () => this.change({ rotation: (rotation + 90) % 360 }),
      "rotate-back": () => this.change({ rotation: (rotation + 270) % 360 }),
    };
    if (moves[action]) moves[action]();
  }

  change(update) {
    const turned = update.page !== undefined && update.page !== this.state.page;
    const centre = turned ? { x: 0.5, y: 0 } : this.centre(); // a new page starts at its top
    Object.assign(this.state, update);
    saveState(this.root, this.state);
    return this.render({ centre });
  }

  // Drawings run one after another; while one runs, only the latest request waits for its turn.
  render(options = {}) {
    const ticket = ++this.wanted;
    this.drawing = this.drawing.then(() => (ticket === this.wanted ? this.draw(options) : null));
    return this.drawing;
  }

  async draw({ centre = null, keep = false }) {
    const { page, rotation } = this.state;
    const middle = centre || (keep ? this.centre() : { x: 0.5, y: 0 });
    try {
      if (this.state.fit) this.state.zoom = await this.fitZoom(page, rotation);
      const shown = await this.source.draw(this.sheet, page, this.state.zoom, rotation);
      this.keepCentre(middle);
      this.showState(shown);
    } catch (error) {
      if (error && error.name === "RenderingCancelledException") return;
      this.fail(`Page ${page} could not be shown (${error.message}).`);
    }
  }

  async fitZoom(page, rotation) {
    const { width } = await this.source.size(page, rotation);
    const room = this.stage.clientWidth - SHEET_MARGIN;
    return clampZoom(Math.floor((room / width) * 100) / 100);
  }

  centre() {
    const { scrollLeft, scrollTop, clientWidth, clientHeight, scrollWidth, scrollHeight } = this.stage;
    return { x: (scrollLeft + clientWidth / 2) / scrollWidth, y: (scrollTop + clientHeight / 2) / scrollHeight };
  }

  // A zoom keeps the same spot of the page in the middle of the stage; y 0 is the page's top.
  keepCentre(centre) {
    const { clientWidth, clientHeight, scrollWidth, scrollHeight } = this.stage;
    this.stage.scrollLeft = centre.x * scrollWidth - clientWidth / 2;
    this.stage.scrollTop = centre.y * scrollHeight - clientHeight / 2;
  }

  showState(shown) {
    const { page, zoom, rotation } = this.state;
    const percent = `${Math.round(zoom * 100)} %`;
    this.pageInput.value = String(page);
    this.zoomOutput.textContent = percent;
    // aria-disabled, not disabled: a disabled button would drop the keyboard focus on it.
    this.root.querySelector("[data-action=prev]").setAttribute("aria-disabled", String(page <= 1));
    this.root.querySelector("[data-action=next]").setAttribute("aria-disabled", String(page >= this.source.count));
    this.root.querySelector("[data-action=fit]").setAttribute("aria-pressed", String(this.state.fit));
    for (const element of [this.root, shown]) {
      element.dataset.renderedPage = String(page);
      element.dataset.renderedZoom = String(zoom);
      element.dataset.renderedRotation = String(rotation);
    }
  }
}

function startViewers(scope) {
  for (const root of scope.querySelectorAll("#document-viewer[data-kind]")) {
    if (ready.has(root)) continue;
    ready.add(root);
    new Viewer(root).start();
  }
}

startViewers(document);
// A page that swaps fragments in (htmx) may bring a viewer with it.
document.addEventListener("htmx:load", (event) => startViewers(event.detail.elt.parentNode || document));
