// What a page of a document is and how it is drawn, for viewer.js. A source has `count` (pages),
// `size(number, rotation)` (CSS pixels at 100 %) and `draw(sheet, number, zoom, rotation)`, which
// puts the drawn page into the sheet and returns the element that shows it.

const CSS_PER_POINT = 96 / 72; // 100 % is a PDF page at its printed size, as PDF.js counts it
const MAX_CANVAS_PIXELS = 16777216; // beyond this a canvas costs too much memory

export async function pdfSource(root) {
  const pdfjs = await import(root.dataset.pdfjs);
  pdfjs.GlobalWorkerOptions.workerSrc = root.dataset.pdfjsWorker;
  const vendor = new URL(".", new URL(root.dataset.pdfjs, window.location.href)).href;
  const pdf = await pdfjs.getDocument({
    url: root.dataset.src,
    isEvalSupported: false, // the CSP forbids eval: PDF.js would probe it and log a violation
    // The CSP has no 'wasm-unsafe-eval': PDF.js decodes JBIG2 / JPEG 2000 scans with its plain
    // JavaScript decoders from wasm/ instead, and draws unembedded fonts from standard_fonts/.
    useWasm: false,
    wasmUrl: `${vendor}wasm/`,
    standardFontDataUrl: `${vendor}standard_fonts/`,
  }).promise;
  let task = null;
  return {
    count: pdf.numPages,
    async size(number, rotation) {
      const page = await pdf.getPage(number);
      const viewport = page.getViewport({ scale: CSS_PER_POINT, rotation: (page.rotate + rotation) % 360 });
      return { width: viewport.width, height: viewport.height };
    },
    async draw(sheet, number, zoom, rotation) {
      const page = await pdf.getPage(number);
      const viewport = page.getViewport({
        scale: zoom * CSS_PER_POINT, rotation: (page.rotate + rotation) % 360,
      });
      const area = viewport.width * viewport.height;
      const ratio = Math.min(window.devicePixelRatio || 1, Math.sqrt(MAX_CANVAS_PIXELS / area));
      const canvas = document.createElement("canvas");
      canvas.width = Math.floor(viewport.width * ratio);
      canvas.height = Math.floor(viewport.height * ratio);
      canvas.style.width = `${Math.round(viewport.width)}px`;
      canvas.style.height = `${Math.round(viewport.height)}px`;
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `Page ${number} of ${pdf.numPages}`);
      if (task) task.cancel(); // a newer drawing wins; the old one ends with a cancel error
      task = page.render({ canvas, viewport, transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0] });
      const mine = task;
      try {
        await mine.promise;
      } finally {
        if (task === mine) task = null;
      }
      // Drawn off-screen, swapped in whole: the clerk never sees a blank page between zooms.
      canvas.id = "viewer-canvas";
      sheet.replaceChildren(canvas);
      sheet.style.width = canvas.style.width;
      sheet.style.height = canvas.style.height;
      return canvas;
    },
  };
}

export function imageSource(root) {
  const template = root.dataset.pageUrl;
  const count = template ? Number(root.dataset.pages) || 1 : 1;
  const urlOf = (number) => (template ? template.replace("{n}", String(number)) : root.dataset.src);
  const existing = root.querySelector("#viewer-image");
  const name = existing ? existing.alt.replace(/, page \d+$/, "") : "Document";
  const loaded = new Map();

  // The page's own img (already in the HTML, shown without JavaScript) serves page 1.
  function whenLoaded(img, number) {
    return new Promise((resolve, reject) => {
      if (img.complete && img.naturalWidth) {
        resolve(img);
        return;
      }
      img.addEventListener("load", () => resolve(img), { once: true });
      img.addEventListener("error", () => reject(new Error(`page ${number} could not be loaded`)), { once: true });
      if (img !== existing || (img.complete && !img.naturalWidth)) img.src = urlOf(number);
    });
  }

  function load(number) {
    if (!loaded.has(number)) {
      const done = whenLoaded(number === 1 && existing ? existing : new Image(), number);
      loaded.set(number, done);
      done.catch(() => loaded.delete(number)); // a later try may load it
    }
    return loaded.get(number);
  }

  return {
    count,
    async size(number, rotation) {
      const img = await load(number);
      const turned = rotation % 180 !== 0;
      return turned ? { width: img.naturalHeight, height: img.naturalWidth }
        : { width: img.naturalWidth, height: img.naturalHeight };
    },
    async draw(sheet, number, zoom, rotation) {
      const img = await load(number);
      const width = img.naturalWidth * zoom;
      const height = img.naturalHeight * zoom;
      const turned = rotation % 180 !== 0;
      img.id = "viewer-image";
      img.alt = count > 1 ? `${name}, page ${number}` : name;
      img.draggable = false;
      img.style.width = `${width}px`;
      img.style.height = `${height}px`;
      img.style.transform = `translate(-50%, -50%) rotate(${rotation}deg)`;
      sheet.style.width = `${Math.round(turned ? height : width)}px`;
      sheet.style.height = `${Math.round(turned ? width : height)}px`;
      if (sheet.firstElementChild !== img || sheet.childElementCount !== 1) sheet.replaceChildren(img);
      return img;
    },
  };
}
