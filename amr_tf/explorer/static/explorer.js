// The mix explorer page: calls the explorer's /api/ (see explorer.py) and
// draws the [-1, 1] (H, W, C) images and the PNG files it returns to
// canvases.
"use strict";

const state = {model: null, images: [], a: 0, b: 1};
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    throw new Error("the explorer is not answering (is it still running?)");
  }
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

// The failure of each task ("model", "upload", a view), until it succeeds.
const errors = new Map();

function showErrors() {
  const box = $("error");
  box.replaceChildren(...[...new Set(errors.values())].map((message) => {
    const line = document.createElement("p");
    line.textContent = message;
    return line;
  }));
  box.hidden = errors.size === 0;
}

// Runs `task`; its failure shows on the page until `key` next succeeds.
async function attempt(key, task) {
  try {
    await task();
    errors.delete(key);
  } catch (error) {
    errors.set(key, error.message || String(error));
  }
  showErrors();
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// [-1, 1] -> 0..255, as amr_tf.visualize.to_uint8 converts.
const toByte = (value) => Math.round((Math.min(1, Math.max(-1, value)) + 1) * 127.5);

// Draws a [-1, 1] (H, W, C) image given as nested lists, or a decoded PNG.
function draw(canvas, image) {
  if (image instanceof ImageBitmap) {
    canvas.width = image.width;
    canvas.height = image.height;
    canvas.getContext("2d").drawImage(image, 0, 0);
    return;
  }
  const height = image.length, width = image[0].length;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const value = image[y][x], offset = 4 * (y * width + x);
      for (let c = 0; c < 3; c++) pixels.data[offset + c] = toByte(value[value.length === 1 ? 0 : c]);
      pixels.data[offset + 3] = 255;
    }
  }
  context.putImageData(pixels, 0, 0);
}

// A mask (C,) in [0, 1] as one row of gray cells.
function drawMask(canvas, mask) {
  draw(canvas, [mask.map((value) => [2 * value - 1])]);
}

function blend(a, b, alpha) {
  return a.map((row, y) => row.map((pixel, x) => pixel.map(
    (value, c) => alpha * value + (1 - alpha) * b[y][x][c])));
}

// TF Serving's REST API sends files as {"b64": ...}: the keys of the
// signatures that take and give images as files end in "_bytes".
const isBytesKey = (key) => key.endsWith("_bytes");

async function decodePng(value) {
  const bytes = Uint8Array.from(atob(value.b64), (char) => char.charCodeAt(0));
  return createImageBitmap(new Blob([bytes], {type: "image/png"}));
}

// Calls the signature of a view ("mix", "channels", "attributes") with one
// value per input key of the serving contract, in order; gallery entries
// go as their file ({"b64": ...}) to a "_bytes" key, else as their floats.
// PNG outputs come back decoded, to draw.
async function predict(view, values) {
  const signature = state.model.signatures[view];
  const inputs = Object.fromEntries(signature.inputs.map((key, index) => [key,
    values[index].map((value) => (value && value.image
      ? (isBytesKey(key) ? {b64: value.data} : value.image) : value))]));
  const answer = await api("/api/predict", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({signature_name: signature.name, inputs}),
  });
  return Promise.all(signature.outputs.map((key) => (isBytesKey(key)
    ? Promise.all(answer.outputs[key].map(decodePng)) : answer.outputs[key])));
}

const entryA = () => state.images[state.a];
const entryB = () => state.images[state.b];
const imageA = () => entryA().image;
const imageB = () => entryB().image;
const repeat = (value, count) => Array.from({length: count}, () => value);

// Draws the newest answer only: each view numbers its requests.
const latest = {};
async function update(view, task) {
  const ticket = (latest[view] = (latest[view] || 0) + 1);
  await attempt(view, async () => {
    const render = await task();
    if (ticket === latest[view]) render();
  });
}

function updateMix() {
  const alpha = Number($("alpha").value);
  $("alpha-value").textContent = alpha.toFixed(2);
  draw($("blend"), blend(imageA(), imageB(), alpha));
  update("mix", async () => {
    const [images] = await predict("mix", [[entryA()], [entryB()], [alpha]]);
    return () => {
      draw($("mix"), images[0]);
      $("mix").dataset.alpha = String(alpha);
    };
  });
}

function updateStrip() {
  const steps = Math.min(16, Math.max(2, Math.round(Number($("steps").value)) || 8));
  const alphas = Array.from({length: steps}, (_, index) => 1 - index / (steps - 1));
  update("strip", async () => {
    const [images] = await predict("mix", [repeat(entryA(), steps), repeat(entryB(), steps), alphas]);
    return () => {
      const strip = $("strip");
      strip.replaceChildren(...images.map((image, index) => {
        const canvas = document.createElement("canvas");
        canvas.setAttribute("role", "img");
        canvas.setAttribute("aria-label", `decoded mix at alpha ${alphas[index].toFixed(2)}`);
        draw(canvas, image);
        return canvas;
      }));
    };
  });
}

const checkedValues = (id) => [...$(id).querySelectorAll("input")].map((box) => (box.checked ? 1 : 0));

function updateChannels() {
  if ($("channels-section").hidden) return;
  update("channels", async () => {
    const [images] = await predict("channels", [[entryA()], [entryB()], [checkedValues("channels")]]);
    return () => draw($("channel-mix"), images[0]);
  });
}

function updateAttributes() {
  if ($("attributes-section").hidden) return;
  update("attributes", async () => {
    const [images, mask] = await predict("attributes", [[entryA()], [entryB()], [checkedValues("attributes")]]);
    return () => {
      draw($("attribute-mix"), images[0]);
      drawMask($("mask"), mask[0]);
    };
  });
}

function updateAll() {
  draw($("image-a"), imageA());
  draw($("image-b"), imageB());
  $("name-a").textContent = state.images[state.a].name;
  $("name-b").textContent = state.images[state.b].name;
  renderGallery();
  updateMix();
  updateStrip();
  updateChannels();
  updateAttributes();
}

function choose(slot, index) {
  state[slot] = index;
  updateAll();
}

function renderGallery() {
  $("gallery").replaceChildren(...state.images.map((entry, index) => {
    const item = document.createElement("li");
    const canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", entry.name);
    draw(canvas, entry.image);
    const caption = document.createElement("span");
    caption.textContent = entry.name;
    item.append(canvas, caption);
    for (const slot of ["a", "b"]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = slot;
      button.className = `choose-${slot}`;
      button.setAttribute("aria-label", `use ${entry.name} as ${slot}`);
      button.setAttribute("aria-pressed", String(state[slot] === index));
      button.addEventListener("click", () => choose(slot, index));
      item.append(button);
    }
    return item;
  }));
}

async function upload(files) {
  for (const file of files) {
    await attempt("upload", async () => {
      const entry = await api(`/api/image?name=${encodeURIComponent(file.name)}`, {
        method: "POST",
        headers: {"Content-Type": file.type || "application/octet-stream"},
        body: file,
      });
      state.images.push(entry);
      if (state.images.length === 1) state.b = 0;
      choose("a", state.images.length - 1);
    });
  }
}

function toggles(container, labels, checked, onChange) {
  container.replaceChildren(...labels.map((text, index) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = checked(index);
    box.addEventListener("change", onChange);
    label.append(box, ` ${text}`);
    return label;
  }));
}

function setChannels(value) {
  for (const box of $("channels").querySelectorAll("input")) box.checked = value();
  updateChannels();
}

function showModel(model) {
  const metadata = model.metadata || {};
  const missing = "unknown (start the explorer with --export_dir)";
  const [height, width, channels] = model.image_shape;
  let attributes = (metadata.attribute_names || []).join(", ") || model.attribute_count;
  if (!model.signatures.attributes) attributes = `${attributes ? `${attributes}; ` : ""}no class mixer`;
  $("model-line").textContent = `Model ${model.model_name} version ${model.version} at ${model.model_server}`;
  const rows = [
    ["Dataset", metadata.dataset], ["Objective", metadata.objective],
    ["Mixer", model.signatures.attributes
      ? `class mixer${metadata.mixer ? ` (base: ${metadata.mixer})` : ""}` : metadata.mixer],
    ["Training step", metadata.training_step],
    ["Image size", `${height} × ${width} × ${channels}`],
    ["Latent channels", model.mask_channels],
    ["Attributes", attributes],
    ["Signatures", model.served_signatures.join(", ")],
  ];
  $("metadata").replaceChildren(...rows.flatMap(([term, value]) => {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value === undefined || value === null ? missing : String(value);
    return [dt, dd];
  }));
  if (model.signatures.channels) {
    const count = model.mask_channels;
    toggles($("channels"), Array.from({length: count}, (_, i) => `${i}`), (i) => i < count / 2, updateChannels);
    $("channels-section").hidden = false;
  }
  if (model.signatures.attributes) {
    const names = metadata.attribute_names || Array.from({length: model.attribute_count}, (_, i) => `attribute ${i + 1}`);
    toggles($("attributes"), names, (i) => i % 2 === 0, updateAttributes);
    $("attributes-section").hidden = false;
  }
}

async function start() {
  $("alpha").addEventListener("input", debounce(updateMix, 60));
  $("steps").addEventListener("change", updateStrip);
  $("upload").addEventListener("change", async (event) => {
    await upload([...event.target.files]);
    event.target.value = "";  // Choosing the same file again uploads it again.
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    upload(event.dataTransfer.files);
  });
  $("channels-a").addEventListener("click", () => setChannels(() => true));
  $("channels-b").addEventListener("click", () => setChannels(() => false));
  $("channels-random").addEventListener("click", () => setChannels(() => Math.random() < 0.5));
  await attempt("model", async () => {
    state.model = await api("/api/model");
    showModel(state.model);
    state.images = (await api("/api/examples")).examples;
  });
  if (!state.model) $("model-line").textContent = "No model loaded (see the message).";
  if (state.images.length) {
    state.b = Math.min(1, state.images.length - 1);
    updateAll();
  }
  document.body.dataset.ready = "true";
}

start();
