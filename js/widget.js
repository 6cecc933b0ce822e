// convscope Explorer frontend: sliders, sample picker and (outside ipympl) the figure itself.
// Hand-written ESM with no dependencies, loaded by anywidget. State lives in the kernel; this
// file sends requests and draws what the kernel publishes. At most one request is in flight:
// while the kernel works, newer slider values replace older ones, so only the latest is computed.

const PLAY_INTERVAL_MS = 250;
const ACK_TIMEOUT_MS = 8000;

function h(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function option(value, label) {
  const node = h("option", { value: String(value) });
  node.textContent = label;
  return node;
}

/** Queue of requests to the kernel, merged by type, sent one batch at a time. */
function makeRequester(model) {
  let seq = 0;
  let inflight = 0;
  let timer = null;
  let queued = {};

  function pump() {
    if (inflight || Object.keys(queued).length === 0) return;
    // Time-based, so that two views of one widget (the same widget shown in two cells) never
    // wait on each other: the kernel acknowledges the largest number it has handled.
    seq = Math.max(seq + 1, Date.now());
    inflight = seq;
    const batch = queued;
    queued = {};
    for (const [type, content] of Object.entries(batch)) {
      model.send({ type, seq, ...content });
    }
    clearTimeout(timer);
    timer = setTimeout(release, ACK_TIMEOUT_MS); // never wedge if an ack is lost
  }

  function release() {
    inflight = 0;
    pump();
  }

  model.on("change:ack", () => {
    if (model.get("ack") >= inflight) release();
  });

  return {
    view(fields) {
      queued.view = { ...(queued.view || {}), ...fields };
      if ("sample" in fields) delete queued.step;
      pump();
    },
    step(delta) {
      const pending = queued.step ? queued.step.delta : 0;
      queued.step = { delta: pending + delta };
      if (queued.view) delete queued.view.sample;
      pump();
    },
    filter(fields) {
      queued.filter = fields;
      pump();
    },
    page(page) {
      queued.page = { page };
      pump();
    },
    dispose() {
      clearTimeout(timer);
    },
  };
}

function drawThumbnail(canvas, bytes, offset, [height, width, channels]) {
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  const pixels = image.data;
  for (let i = 0, j = offset; i < width * height; i += 1) {
    if (channels === 1) {
      const v = bytes[j];
      j += 1;
      pixels[4 * i] = v;
      pixels[4 * i + 1] = v;
      pixels[4 * i + 2] = v;
    } else {
      pixels[4 * i] = bytes[j];
      pixels[4 * i + 1] = bytes[j + 1];
      pixels[4 * i + 2] = bytes[j + 2];
      j += 3;
    }
    pixels[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

function asBytes(value) {
  if (!value) return new Uint8Array(0);
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer ?? value);
}

function render({ model, el }) {
  const request = makeRequester(model);
  const root = h("div", { class: "convscope", tabindex: "0" });

  // Figure (PNG mode only; in ipympl mode the canvas is a sibling widget above us).
  const figure = h("img", { class: "convscope-figure", alt: "convscope feature maps" });
  let figureUrl = null;

  const errorBox = h("div", { class: "convscope-error", role: "alert" });
  const statusBox = h("div", { class: "convscope-status" });

  // Layer and channel sliders.
  const layerSlider = h("input", { type: "range", min: "0", step: "1", class: "convscope-layer" });
  const layerLabel = h("span", { class: "convscope-value" });
  const channelSlider = h("input", { type: "range", min: "0", step: "1", class: "convscope-channel" });
  const channelLabel = h("span", { class: "convscope-value" });

  // Sample controls.
  const prevButton = h("button", { class: "convscope-prev", title: "previous sample (←)", text: "◀" });
  const playButton = h("button", { class: "convscope-play", title: "play through the samples", text: "▶ play" });
  const nextButton = h("button", { class: "convscope-next", title: "next sample (→)", text: "▶" });
  const sampleLabel = h("span", { class: "convscope-sample-text" });

  // Filters and colours.
  const trueSelect = h("select", { class: "convscope-filter-true", title: "true class" });
  const predSelect = h("select", { class: "convscope-filter-pred", title: "predicted class" });
  const wrongBox = h("input", { type: "checkbox", class: "convscope-misclassified" });
  const cmapSelect = h("select", { class: "convscope-cmap", title: "colormap" });
  const normSelect = h("select", { class: "convscope-norm", title: "normalisation" });

  // Thumbnails.
  const thumbs = h("div", { class: "convscope-thumbs" });
  const pagePrev = h("button", { class: "convscope-page-prev", text: "‹" });
  const pageNext = h("button", { class: "convscope-page-next", text: "›" });
  const pageLabel = h("span", { class: "convscope-page-text" });

  const row = (label, ...children) =>
    h("div", { class: "convscope-row" }, [h("span", { class: "convscope-key", text: label }), ...children]);

  root.append(
    figure,
    errorBox,
    statusBox,
    row("layer", layerSlider, layerLabel),
    row("channel", channelSlider, channelLabel),
    row("sample", prevButton, playButton, nextButton, sampleLabel),
    h("div", { class: "convscope-row convscope-options" }, [
      h("label", {}, ["true ", trueSelect]),
      h("label", {}, ["predicted ", predSelect]),
      h("label", {}, [wrongBox, " misclassified only"]),
      h("label", {}, ["colours ", cmapSelect]),
      h("label", {}, ["scale ", normSelect]),
    ]),
    thumbs,
    h("div", { class: "convscope-row convscope-pages" }, [pagePrev, pageLabel, pageNext]),
  );
  el.append(root);

  // ----- kernel state -> page ------------------------------------------------------------
  let dragging = null;

  function showFigure() {
    const png = model.get("figure_png");
    const isPng = model.get("figure_mode") === "png";
    figure.style.display = isPng ? "" : "none";
    if (!isPng || !png || png.byteLength === 0) return;
    const url = URL.createObjectURL(new Blob([asBytes(png)], { type: "image/png" }));
    figure.onload = () => {
      if (figureUrl) URL.revokeObjectURL(figureUrl);
      figureUrl = url;
    };
    figure.src = url;
  }

  function layerText(index) {
    const info = model.get("layer_options")[index];
    return info ? `${info.name}  ·  ${info.kind}  ·  ${info.shape}` : "";
  }

  function showLayer() {
    const layers = model.get("layer_options");
    layerSlider.max = String(layers.length - 1);
    if (dragging !== layerSlider) layerSlider.value = String(model.get("layer_index"));
    layerLabel.textContent = layerLabel.title = layerText(Number(layerSlider.value));
  }

  function showChannel() {
    const count = model.get("channel_count");
    channelSlider.max = String(count - 1);
    if (dragging !== channelSlider) channelSlider.value = String(model.get("channel_index"));
    channelLabel.textContent = `${model.get("unit_name")} ${channelSlider.value} of ${count}`;
  }

  function fillClassSelect(select, enabled) {
    select.replaceChildren(option(-1, "any"));
    model.get("class_names").forEach((name, index) => select.append(option(index, name)));
    select.disabled = !enabled;
  }

  function showOptions() {
    fillClassSelect(trueSelect, model.get("has_labels"));
    fillClassSelect(predSelect, model.get("has_predictions"));
    wrongBox.disabled = !(model.get("has_labels") && model.get("has_predictions"));
    cmapSelect.replaceChildren(...model.get("cmap_options").map((name) => option(name, name)));
    normSelect.replaceChildren(
      ...model.get("norm_options").map((name) => option(name, name === "fixed" ? "fixed (data set)" : name)),
    );
    showValues();
  }

  function showValues() {
    trueSelect.value = String(model.get("filter_true"));
    predSelect.value = String(model.get("filter_predicted"));
    wrongBox.checked = model.get("misclassified_only");
    cmapSelect.value = model.get("cmap");
    normSelect.value = model.get("norm");
  }

  function showSample() {
    sampleLabel.textContent = model.get("sample_text");
    for (const cell of thumbs.children) {
      cell.classList.toggle("current", Number(cell.dataset.index) === model.get("sample_index"));
    }
  }

  function showThumbs() {
    const bytes = asBytes(model.get("thumbs"));
    const shape = model.get("thumb_shape");
    const size = shape[0] * shape[1] * shape[2];
    const names = model.get("class_names");
    const cells = model.get("thumb_meta").map((meta, i) => {
      const canvas = h("canvas");
      drawThumbnail(canvas, bytes, i * size, shape);
      const wrong = meta.label >= 0 && meta.predicted >= 0 && meta.label !== meta.predicted;
      const caption = [
        meta.label >= 0 ? names[meta.label] ?? meta.label : "",
        meta.predicted >= 0 ? `→${names[meta.predicted] ?? meta.predicted}` : "",
      ].join("");
      const cell = h(
        "button",
        {
          class: `convscope-thumb${wrong ? " wrong" : ""}`,
          title: `sample ${meta.index}`,
          "data-index": String(meta.index),
          onclick: () => request.view({ sample: meta.index }),
        },
        [canvas, h("span", { text: caption })],
      );
      return cell;
    });
    thumbs.replaceChildren(...cells);
    pageLabel.textContent =
      `page ${model.get("page") + 1} of ${model.get("page_count")}  ·  ${model.get("filtered_count")} samples`;
    showSample();
  }

  function showMessages() {
    errorBox.textContent = model.get("error");
    errorBox.style.display = model.get("error") ? "" : "none";
    statusBox.textContent = model.get("status");
    statusBox.style.display = model.get("status") ? "" : "none";
  }

  // ----- page -> kernel requests ---------------------------------------------------------
  function onSlide(slider, send) {
    slider.addEventListener("pointerdown", () => {
      dragging = slider;
    });
    const stop = () => {
      if (dragging === slider) dragging = null;
    };
    slider.addEventListener("pointerup", stop);
    slider.addEventListener("change", stop);
    slider.addEventListener("input", () => send(Number(slider.value)));
  }

  onSlide(layerSlider, (index) => {
    layerLabel.textContent = layerLabel.title = layerText(index);
    request.view({ layer: model.get("layer_options")[index].name });
  });
  onSlide(channelSlider, (index) => {
    channelLabel.textContent = `${model.get("unit_name")} ${index} of ${model.get("channel_count")}`;
    request.view({ channel: index });
  });

  let playing = null;
  function stopPlaying() {
    clearInterval(playing);
    playing = null;
    playButton.textContent = "▶ play";
  }
  playButton.addEventListener("click", () => {
    if (playing) return stopPlaying();
    playing = setInterval(() => request.step(1), PLAY_INTERVAL_MS);
    playButton.textContent = "❚❚ pause";
  });
  prevButton.addEventListener("click", () => request.step(-1));
  nextButton.addEventListener("click", () => request.step(1));
  root.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLSelectElement) return;
    const moves = { ArrowRight: 1, ArrowLeft: -1 };
    if (event.key in moves && !(event.target instanceof HTMLInputElement && event.target.type === "range")) {
      request.step(moves[event.key]);
      event.preventDefault();
    }
  });

  const sendFilter = () =>
    request.filter({
      true: Number(trueSelect.value),
      predicted: Number(predSelect.value),
      misclassified: wrongBox.checked,
    });
  trueSelect.addEventListener("change", sendFilter);
  predSelect.addEventListener("change", sendFilter);
  wrongBox.addEventListener("change", sendFilter);
  cmapSelect.addEventListener("change", () => request.view({ cmap: cmapSelect.value }));
  normSelect.addEventListener("change", () => request.view({ norm: normSelect.value }));
  pagePrev.addEventListener("click", () => request.page(Math.max(0, model.get("page") - 1)));
  pageNext.addEventListener("click", () => request.page(model.get("page") + 1));

  // ----- wiring --------------------------------------------------------------------------
  const handlers = [
    ["change:figure_png change:figure_mode", showFigure],
    ["change:layer_index change:layer_options", showLayer],
    ["change:channel_index change:channel_count change:unit_name", showChannel],
    ["change:sample_text change:sample_index", showSample],
    ["change:thumbs change:thumb_meta change:page change:page_count change:filtered_count", showThumbs],
    ["change:error change:status", showMessages],
    ["change:ack", () => (root.dataset.ack = String(model.get("ack")))], // for tests and timing
    ["change:cmap change:norm change:filter_true change:filter_predicted change:misclassified_only", showValues],
    ["change:class_names change:has_labels change:has_predictions", showOptions],
  ];
  for (const [events, handler] of handlers) model.on(events, handler);
  showFigure();
  showLayer();
  showChannel();
  showOptions();
  showThumbs();
  showMessages();

  return () => {
    stopPlaying();
    request.dispose();
    for (const [events, handler] of handlers) model.off(events, handler);
    if (figureUrl) URL.revokeObjectURL(figureUrl);
  };
}

export default { render };
