// @ts-check
// convscope Explorer frontend: sliders, sample picker and (outside ipympl) the figure itself.
// Hand-written ESM with no dependencies, loaded by anywidget in any host: JupyterLab, Notebook,
// Colab, VS Code, marimo. State lives in the kernel; this file sends requests and draws what the
// kernel publishes. The contract between the two is src/convscope/widget/protocol.py: the
// typedefs below mirror it, and tests/test_widget_protocol.py checks that they agree.
// At most one request is in flight: while the kernel works, newer values replace older ones.

const PLAY_INTERVAL_MS = 250;
const ACK_TIMEOUT_MS = 8000; // see the seq/ack rule in protocol.py
const ASK_AGAIN_MS = 2000; // a view still without a whole frame asks for one again
// JupyterLab (Lumino) runs no shortcut for a key event whose target carries this attribute.
const SUPPRESS_SHORTCUTS = "data-lm-suppress-shortcuts";
const FOCUSABLE_TAGS = new Set(["button", "input", "select", "summary"]);
const SVG = "http://www.w3.org/2000/svg";
const CURVE_SIZE = [240, 64]; // the training curve's drawing box, in SVG units
const PAD_SIZE = 280; // the drawing pad's own pixels, a side
const PAD_SENT = 112; // the pad is sent at 112×112 (12.5 kB a stroke), 4× MNIST's 28
// MNIST's strokes are 2 of its 28 pixels wide (data/drawing.py MNIST_STROKE) when the digit
// fills the middle 20/28: the pad's dashed box.
const PAD_BRUSH = (PAD_SIZE * 2) / 28;
/** @type {Record<string, string>} the sort control's words for each of samples.SORTS */
const SORT_NAMES = {
  index: "by index",
  confidence: "least confident first",
  loss: "highest loss first",
  activation: "channel's strongest first",
};
/** @type {Record<string, string>} the compare control's words for each of compare.COMPARE_MODES */
const COMPARE_MODE_NAMES = {
  side: "side by side",
  difference: "difference A − B",
};
/** @type {Record<string, string>} the view control's words for each of views.VIEWS */
const VIEW_NAMES = {
  maps: "feature maps",
  heatmap: "activation heatmap",
  "grad-cam": "Grad-CAM",
  pattern: "filter patterns",
};

// ----- the contract, mirrored from protocol.py ------------------------------------------------

/**
 * @typedef {Object} LayerOption
 * @property {string} name
 * @property {string} kind
 * @property {string} shape
 * @property {number} channels
 * @property {string} text
 */

/**
 * @typedef {Object} ThumbMeta
 * @property {number} index
 * @property {number} label
 * @property {number} predicted
 * @property {string} caption
 */

/**
 * @typedef {Object} PanelThumb
 * @property {number} index
 * @property {number} peak
 */

/**
 * What a live training does; `state` is "" before any (see protocol.py's TrainingState).
 * @typedef {Object} TrainingState
 * @property {string} state
 * @property {boolean} follow
 * @property {string} text
 * @property {number} steps_per_epoch
 * @property {boolean} controls
 */

/**
 * Every synced trait: what the kernel publishes and the page draws. The user's view state is
 * public (no "_"): Python code and linked widgets set it too, and the kernel applies each change.
 * @typedef {Object} ExplorerState
 * @property {string} layer
 * @property {number} channel
 * @property {number | string} sample
 * @property {string} cmap
 * @property {string} norm
 * @property {string} view
 * @property {number | null} target_class
 * @property {number[] | null} probe
 * @property {number | null} compare
 * @property {string} compare_mode
 * @property {number} page
 * @property {number | null} epoch
 * @property {number} filter_true
 * @property {number} filter_predicted
 * @property {boolean} misclassified_only
 * @property {LayerOption[]} _layer_options
 * @property {number} _channel_count
 * @property {string} _unit_name
 * @property {string} _sample_text
 * @property {number[]} _pad
 * @property {string[]} _cmap_options
 * @property {string[]} _norm_options
 * @property {string[]} _view_options
 * @property {string[]} _class_names
 * @property {boolean} _has_labels
 * @property {boolean} _has_predictions
 * @property {string} _figure_mode
 * @property {DataView} _figure_frame
 * @property {DataView} _thumbs
 * @property {ThumbMeta[]} _thumb_meta
 * @property {number[]} _thumb_shape
 * @property {number} _page_count
 * @property {number} _filtered_count
 * @property {number[][]} _confusion
 * @property {number[]} _epochs
 * @property {Record<string, (number | null)[]>} _history
 * @property {TrainingState} _training
 * @property {boolean} _teaching
 * @property {string[]} _captions
 * @property {DataView} _download
 * @property {string} _download_name
 * @property {boolean} _panel_open
 * @property {string} _panel_text
 * @property {DataView} _panel_thumbs
 * @property {PanelThumb[]} _panel_meta
 * @property {string} _sort
 * @property {string[]} _sort_options
 * @property {string} _compare_text
 * @property {string} _error
 * @property {string} _status
 * @property {number} _ack
 * @property {boolean} _echo_acks
 * @property {number} _shown
 */

/**
 * @typedef {Object} ViewRequest
 * @property {"view"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {string} [layer]
 * @property {number} [channel]
 * @property {number} [sample]
 * @property {string} [cmap]
 * @property {string} [norm]
 * @property {string} [view]
 * @property {number} [target_class]
 * @property {number} [compare]
 * @property {string} [compare_mode]
 */

/**
 * @typedef {Object} StepRequest
 * @property {"step"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {number} delta
 */

/**
 * Steps through the channels and the layers; the kernel stops at either end.
 * @typedef {Object} MoveRequest
 * @property {"move"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {number} [channels]
 * @property {number} [layers]
 */

/**
 * @typedef {Object} FilterRequest
 * @property {"filter"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {number} true
 * @property {number} predicted
 * @property {boolean} misclassified
 */

/**
 * @typedef {Object} PageRequest
 * @property {"page"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {number} page
 */

/**
 * @typedef {Object} SortRequest
 * @property {"sort"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {string} sort
 */

/**
 * @typedef {Object} PanelRequest
 * @property {"panel"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {boolean} open
 */

/**
 * @typedef {Object} EpochRequest
 * @property {"epoch"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {number} epoch
 */

/**
 * @typedef {Object} ProbeRequest
 * @property {"probe"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {number} x
 * @property {number} y
 */

/**
 * @typedef {Object} GifRequest
 * @property {"gif"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {number} frames
 */

/**
 * The pad's pixels travel as the message's one binary buffer: `width × height` grey bytes.
 * @typedef {Object} DrawRequest
 * @property {"draw"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {number} width
 * @property {number} height
 */

/**
 * @typedef {Object} TrainingRequest
 * @property {"training"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {string} action
 */

/**
 * @typedef {Object} FrameRequest
 * @property {"frame"} type
 * @property {number} seq
 * @property {number} [batch]
 * @property {number} [dpr]
 */

/**
 * The host-neutral part of anywidget's model that this file uses: one event name per `on`.
 * @typedef {Object} Model
 * @property {<K extends keyof ExplorerState>(name: K) => ExplorerState[K]} get
 * @property {(event: string, handler: (...args: any[]) => void) => void} on
 * @property {(event: string, handler: (...args: any[]) => void) => void} off
 * @property {(name: "_shown", value: number) => void} set the page's one write: see echoAck
 * @property {() => void} save_changes
 * @property {(content: ViewRequest | StepRequest | MoveRequest | FilterRequest | PageRequest | SortRequest | PanelRequest | EpochRequest | ProbeRequest | GifRequest | DrawRequest | TrainingRequest | FrameRequest | AheadHint, callbacks?: unknown, buffers?: ArrayBuffer[]) => void} send
 */

/**
 * A hint, not a request (protocol.AheadHint): no seq, no ack. The pointer or the focus is on
 * the thumbnail of `sample`, which may be clicked next: the kernel makes its move preview.
 * @typedef {Object} AheadHint
 * @property {string} type
 * @property {number} sample
 */

// ----- small helpers ----------------------------------------------------------------------------

/**
 * Create an element. Focusable ones carry SUPPRESS_SHORTCUTS, so that JupyterLab's command-mode
 * keys (`a`, `b`, `d d`...) never act on the notebook while the widget has the focus.
 * @param {string} tag
 * @param {Record<string, string>} [props] `class`, `text`, or attributes
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElement}
 */
function h(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  if (FOCUSABLE_TAGS.has(tag) || "tabindex" in props) node.setAttribute(SUPPRESS_SHORTCUTS, "true");
  node.append(...children);
  return node;
}

/**
 * @param {string | number} value
 * @param {string} label
 */
function option(value, label) {
  return h("option", { value: String(value), text: label });
}

/**
 * Add a DOM event listener; return the function that removes it.
 * @param {EventTarget} target
 * @param {string} type
 * @param {(event: any) => void} handler
 * @param {boolean} [capture] listen while the event goes down to its target
 * @returns {() => void}
 */
function listen(target, type, handler, capture = false) {
  target.addEventListener(type, handler, capture);
  return () => target.removeEventListener(type, handler, capture);
}

/**
 * Run `handler` on each of the model's `events`: one `model.on` per event, as every anywidget
 * host supports (Backbone's space-separated event lists are not host-neutral).
 * @param {Model} model
 * @param {string[]} events
 * @param {(...args: any[]) => void} handler
 * @returns {() => void} removes the listeners
 */
function onModel(model, events, handler) {
  for (const event of events) model.on(event, handler);
  return () => {
    for (const event of events) model.off(event, handler);
  };
}

/**
 * Run `handler` when any of the traits `names` changes.
 * @param {Model} model
 * @param {(keyof ExplorerState)[]} names
 * @param {() => void} handler
 * @returns {() => void} removes the listeners
 */
function onChange(model, names, handler) {
  return onModel(
    model,
    names.map((name) => `change:${name}`),
    handler,
  );
}

/**
 * @param {DataView | ArrayBuffer | Uint8Array | null | undefined} value
 * @returns {Uint8Array}
 */
function asBytes(value) {
  if (!value) return new Uint8Array(0);
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer ?? value);
}

// ----- requests to the kernel -------------------------------------------------------------------

/**
 * The requests waiting to be sent, one per kind; the next batch.
 * @typedef {{view?: Partial<ViewRequest>, step?: {delta: number}, move?: {channels?: number, layers?: number}, filter?: Partial<FilterRequest>, page?: {page: number}, sort?: {sort: string}, panel?: {open: boolean}, epoch?: {epoch: number}, probe?: {x: number, y: number}, gif?: {frames: number}, draw?: PadReader, training?: {action: string}, frame?: {dpr: number}}} Queue
 */

/**
 * The drawing pad's size and how to read its pixels when the request goes.
 * @typedef {{width: number, height: number, read: () => Uint8Array}} PadReader
 */

/**
 * Send one batch of requests, all with the same seq, each saying how many the batch holds: the
 * kernel applies them as soon as the last has come, not a turn of its event loop later.
 * @param {Model} model
 * @param {number} seq
 * @param {Queue} batch
 */
function sendBatch(model, seq, batch) {
  const entries = Object.entries(batch);
  const size = entries.length;
  for (const [type, content] of entries) {
    if (type === "draw") {
      // Read the pad now, not at the stroke that queued it: the newest pixels go.
      const { width, height, read } = /** @type {PadReader} */ (content);
      model.send({ type: "draw", seq, batch: size, width, height }, undefined, [/** @type {ArrayBuffer} */ (read().buffer)]);
    } else {
      model.send(/** @type {any} */ ({ type, seq, batch: size, ...content }));
    }
  }
}

/**
 * Merge a view request: its fields replace the queued ones, and the steps they make moot.
 * @param {Queue} queued
 * @param {Partial<ViewRequest>} fields
 */
function queueView(queued, fields) {
  queued.view = { ...(queued.view || {}), ...fields };
  if ("sample" in fields) {
    delete queued.step;
    delete queued.draw;
  }
  if (queued.move) {
    // An absolute channel or layer replaces the steps queued before it.
    if ("channel" in fields) delete queued.move.channels;
    if ("layer" in fields) delete queued.move.layers;
  }
}

/**
 * Add ↑/↓ or PageUp/PageDown steps to those queued: every press counts.
 * @param {Queue} queued
 * @param {"channel" | "layer"} what
 * @param {number} delta
 */
function queueMove(queued, what, delta) {
  const key = what === "channel" ? "channels" : "layers";
  const steps = queued.move || {};
  queued.move = { ...steps, [key]: (steps[key] ?? 0) + delta };
}

/**
 * Add ←/→ steps to those queued; they replace a queued sample or drawing.
 * @param {Queue} queued
 * @param {number} delta
 */
function queueStep(queued, delta) {
  queued.step = { delta: (queued.step ? queued.step.delta : 0) + delta };
  if (queued.view) delete queued.view.sample;
  delete queued.draw;
}

/**
 * Queue the pad's newest pixels: the drawing becomes the sample, replacing queued moves to one.
 * @param {Queue} queued
 * @param {PadReader} pad
 */
function queueDrawing(queued, pad) {
  queued.draw = pad;
  delete queued.step;
  if (queued.view) delete queued.view.sample;
}

/**
 * The line to the kernel: a queue, sent one batch at a time (protocol.py's seq/ack rule).
 * @param {Model} model
 */
function makeSendLine(model) {
  let seq = 0;
  let inflight = 0;
  let timer = 0;
  /** @type {Queue} */
  let queued = {};

  function pump() {
    if (inflight || Object.keys(queued).length === 0) return;
    // Time-based, so that two views of one widget (the same widget shown in two cells) never
    // wait on each other: the kernel acknowledges the largest number it has seen.
    seq = Math.max(seq + 1, Date.now());
    inflight = seq;
    const batch = queued;
    queued = {};
    sendBatch(model, seq, batch);
    clearTimeout(timer);
    timer = setTimeout(release, ACK_TIMEOUT_MS); // never wedge if an ack is lost
  }

  function release() {
    inflight = 0;
    pump();
  }

  const offAck = onChange(model, ["_ack"], () => {
    if (model.get("_ack") >= inflight) release();
  });

  return {
    /** Nothing queued and nothing in flight: the page has heard back about every request. */
    idle() {
      return !inflight && Object.keys(queued).length === 0;
    },
    /** @param {(queued: Queue) => void} change what to queue; then send, if nothing is in flight */
    queue(change) {
      change(queued);
      pump();
    },
    dispose() {
      clearTimeout(timer);
      offAck();
    },
  };
}

/**
 * Queue of requests to the kernel, merged by kind, sent one batch at a time (protocol.py's
 * seq/ack rule). Steps (←/→, ↑/↓, PageUp/PageDown) merge by adding up: no press is lost; the
 * other kinds keep their newest request.
 * @param {Model} model
 */
function makeRequester(model) {
  const line = makeSendLine(model);
  return {
    idle: line.idle,
    dispose: line.dispose,
    /** @param {Partial<ViewRequest>} fields */
    view: (fields) => line.queue((queued) => queueView(queued, fields)),
    /** @param {"channel" | "layer"} what @param {number} delta */
    move: (what, delta) => line.queue((queued) => queueMove(queued, what, delta)),
    /** @param {number} delta */
    step: (delta) => line.queue((queued) => queueStep(queued, delta)),
    /** @param {PadReader} pad reads its pixels */
    draw: (pad) => line.queue((queued) => queueDrawing(queued, pad)),
    /** @param {{true: number, predicted: number, misclassified: boolean}} fields */
    filter: (fields) => line.queue((queued) => void (queued.filter = fields)),
    /** @param {number} page */
    page: (page) => line.queue((queued) => void (queued.page = { page })),
    /** @param {string} order */
    sort: (order) => line.queue((queued) => void (queued.sort = { sort: order })),
    /** @param {boolean} open */
    panel: (open) => line.queue((queued) => void (queued.panel = { open })),
    /** @param {number} epoch */
    epoch: (epoch) => line.queue((queued) => void (queued.epoch = { epoch })),
    /** @param {number} frames */
    gif: (frames) => line.queue((queued) => void (queued.gif = { frames })),
    /** @param {string} action pause, resume, stop, follow or unfollow */
    training: (action) => line.queue((queued) => void (queued.training = { action })),
    frame: () => line.queue((queued) => void (queued.frame = { dpr: window.devicePixelRatio || 1 })),
    /** @param {{x: number, y: number}} point where the figure was clicked, 0..1 from top-left */
    probe: (point) => line.queue((queued) => void (queued.probe = point)),
  };
}

// ----- building the controls --------------------------------------------------------------------

/**
 * @typedef {Object} Controls
 * @property {HTMLElement} root
 * @property {HTMLCanvasElement} figure
 * @property {HTMLElement} captions
 * @property {HTMLElement} errorBox
 * @property {HTMLElement} statusBox
 * @property {HTMLInputElement} layerSlider
 * @property {HTMLElement} layerLabel
 * @property {HTMLInputElement} channelSlider
 * @property {HTMLElement} channelLabel
 * @property {HTMLButtonElement} prevButton
 * @property {HTMLButtonElement} playButton
 * @property {HTMLButtonElement} nextButton
 * @property {HTMLElement} sampleLabel
 * @property {HTMLInputElement} compareInput
 * @property {HTMLButtonElement} comparePick
 * @property {HTMLSelectElement} compareMode
 * @property {HTMLButtonElement} compareClear
 * @property {HTMLElement} compareLabel
 * @property {HTMLSelectElement} trueSelect
 * @property {HTMLSelectElement} predSelect
 * @property {HTMLInputElement} wrongBox
 * @property {HTMLSelectElement} cmapSelect
 * @property {HTMLSelectElement} normSelect
 * @property {HTMLSelectElement} viewSelect
 * @property {HTMLSelectElement} classSelect
 * @property {HTMLElement} classLabel
 * @property {HTMLSelectElement} sortSelect
 * @property {HTMLButtonElement} gifButton
 * @property {HTMLDetailsElement} confusion
 * @property {HTMLElement} trainingRow
 * @property {HTMLInputElement} followBox
 * @property {HTMLButtonElement} pauseButton
 * @property {HTMLButtonElement} stopButton
 * @property {HTMLElement} trainingText
 * @property {HTMLElement} epochRow
 * @property {HTMLInputElement} epochSlider
 * @property {HTMLElement} epochLabel
 * @property {SVGSVGElement} curve
 * @property {HTMLDetailsElement} panel
 * @property {HTMLElement} panelText
 * @property {HTMLElement} panelThumbs
 * @property {HTMLTableElement} confusionTable
 * @property {HTMLElement} thumbs
 * @property {HTMLButtonElement} pagePrev
 * @property {HTMLButtonElement} pageNext
 * @property {HTMLElement} pageLabel
 * @property {HTMLDetailsElement} pad
 * @property {HTMLCanvasElement} padCanvas
 * @property {HTMLButtonElement} padClear
 */

/** @returns {Partial<Controls>} the figure, its messages, and the layer and channel sliders */
function makeViewControls() {
  return /** @type {Partial<Controls>} */ ({
    // Focusable, so that a click on the figure keeps ←/→ in the widget (PNG mode only; in
    // ipympl mode the canvas is a sibling widget above the controls).
    figure: h("canvas", { class: "convscope-figure", role: "img", "aria-label": "convscope feature maps", tabindex: "-1" }),
    captions: h("div", { class: "convscope-captions" }),
    errorBox: h("div", { class: "convscope-error", role: "alert" }),
    statusBox: h("div", { class: "convscope-status" }),
    layerSlider: h("input", { type: "range", min: "0", step: "1", class: "convscope-layer", "aria-label": "layer" }),
    layerLabel: h("span", { class: "convscope-value" }),
    channelSlider: h("input", { type: "range", min: "0", step: "1", class: "convscope-channel", "aria-label": "channel" }),
    channelLabel: h("span", { class: "convscope-value" }),
  });
}

/** @returns {Partial<Controls>} stepping through the samples, and sample B to compare with */
function makeSampleControls() {
  return /** @type {Partial<Controls>} */ ({
    prevButton: h("button", { class: "convscope-prev", title: "previous sample (←)", "aria-label": "previous sample", text: "◀" }),
    playButton: h("button", { class: "convscope-play", title: "play through the samples", "aria-label": "play", text: "▶ play" }),
    nextButton: h("button", { class: "convscope-next", title: "next sample (→)", "aria-label": "next sample", text: "▶" }),
    // A polite live region: a screen reader says the new sample and guess once the user pauses.
    sampleLabel: h("span", { class: "convscope-sample-text", "aria-live": "polite" }),
    compareInput: h("input", {
      type: "number",
      min: "0",
      step: "1",
      class: "convscope-compare",
      placeholder: "sample B",
      "aria-label": "compare with sample",
    }),
    comparePick: h("button", {
      class: "convscope-compare-pick",
      title: "then click a thumbnail: it becomes sample B",
      text: "pick B",
      "aria-pressed": "false",
    }),
    compareMode: h("select", {
      class: "convscope-compare-mode",
      title: "how the two samples are shown",
      "aria-label": "compare mode",
    }),
    compareClear: h("button", { class: "convscope-compare-clear", title: "stop comparing", "aria-label": "stop comparing", text: "✕" }),
    compareLabel: h("span", { class: "convscope-compare-text" }),
  });
}

/** @returns {Partial<Controls>} the filters, the order, the colours and the view */
function makeOptionControls() {
  return /** @type {Partial<Controls>} */ ({
    trueSelect: h("select", { class: "convscope-filter-true", title: "true class" }),
    predSelect: h("select", { class: "convscope-filter-pred", title: "predicted class" }),
    wrongBox: h("input", { type: "checkbox", class: "convscope-misclassified" }),
    cmapSelect: h("select", { class: "convscope-cmap", title: "colormap" }),
    normSelect: h("select", { class: "convscope-norm", title: "normalisation" }),
    viewSelect: h("select", { class: "convscope-view", title: "what the big panel shows", "aria-label": "view" }),
    classSelect: h("select", { class: "convscope-target-class", title: "the class Grad-CAM explains" }),
    classLabel: h("label", { class: "convscope-target" }),
    sortSelect: h("select", { class: "convscope-sort", title: "the order of the samples" }),
    gifButton: h("button", {
      class: "convscope-gif",
      title: "save a GIF of the next 20 samples, with panel titles",
      text: "save GIF",
    }),
  });
}

/** @returns {Partial<Controls>} the foldable panels: confusion, epochs, channel panel, thumbnails, drawing pad */
function makePanelControls() {
  return /** @type {Partial<Controls>} */ ({
    confusion: h("details", { class: "convscope-confusion" }),
    trainingRow: h("div", { class: "convscope-row convscope-training", role: "group", "aria-label": "live training" }),
    followBox: h("input", { type: "checkbox", class: "convscope-follow", "aria-label": "follow the newest snapshot" }),
    pauseButton: h("button", { class: "convscope-train-pause", "aria-label": "pause training", text: "❚❚ pause" }),
    stopButton: h("button", { class: "convscope-train-stop", "aria-label": "stop training", text: "■ stop" }),
    trainingText: h("span", { class: "convscope-training-text", role: "status", "aria-live": "polite" }),
    epochRow: h("div", { class: "convscope-row convscope-epochs" }),
    epochSlider: h("input", { type: "range", min: "0", step: "1", class: "convscope-epoch", "aria-label": "epoch" }),
    epochLabel: h("span", { class: "convscope-value" }),
    curve: /** @type {SVGSVGElement} */ (document.createElementNS(SVG, "svg")),
    panel: h("details", { class: "convscope-panel" }),
    panelText: h("div", { class: "convscope-panel-text" }),
    panelThumbs: h("div", { class: "convscope-panel-thumbs" }),
    confusionTable: h("table", { class: "convscope-confusion-table" }),
    thumbs: h("div", { class: "convscope-thumbs" }),
    pagePrev: h("button", { class: "convscope-page-prev", title: "previous page", "aria-label": "previous page", text: "‹" }),
    pageNext: h("button", { class: "convscope-page-next", title: "next page", "aria-label": "next page", text: "›" }),
    pageLabel: h("span", { class: "convscope-page-text" }),
    pad: h("details", { class: "convscope-pad" }),
    padCanvas: h("canvas", {
      class: "convscope-pad-canvas",
      width: String(PAD_SIZE),
      height: String(PAD_SIZE),
      tabindex: "0",
      "aria-label": "drawing pad: draw a digit",
    }),
    padClear: h("button", { class: "convscope-pad-clear", text: "clear", title: "clear the pad" }),
  });
}

/** @returns {Controls} the widget's elements, laid out under `root` */
function buildControls() {
  const c = /** @type {Controls} */ ({
    ...makeViewControls(),
    ...makeSampleControls(),
    ...makeOptionControls(),
    ...makePanelControls(),
  });
  c.root = layOut(c);
  fillPanels(c);
  return c;
}

/**
 * @param {Controls} c
 * @returns {HTMLElement} the widget's root, its rows in reading order
 */
function layOut(c) {
  const row = (/** @type {string} */ label, /** @type {Node[]} */ ...children) =>
    h("div", { class: "convscope-row" }, [h("span", { class: "convscope-key", text: label }), ...children]);
  c.classLabel.append(" explaining class ", c.classSelect);
  return h("div", { class: "convscope", tabindex: "0" }, [
    c.figure,
    c.captions,
    c.errorBox,
    c.statusBox,
    row("layer", c.layerSlider, c.layerLabel),
    row("channel", c.channelSlider, c.channelLabel),
    row("sample", c.prevButton, c.playButton, c.nextButton, c.sampleLabel),
    row("compare", c.compareInput, c.comparePick, c.compareMode, c.compareClear, c.compareLabel),
    row("view", c.viewSelect, c.classLabel),
    c.pad,
    c.trainingRow,
    c.epochRow,
    c.panel,
    h("div", { class: "convscope-row convscope-options" }, [
      h("label", {}, ["true ", c.trueSelect]),
      h("label", {}, ["predicted ", c.predSelect]),
      h("label", {}, [c.wrongBox, " misclassified only"]),
      h("label", {}, ["sort ", c.sortSelect]),
      h("label", {}, ["colours ", c.cmapSelect]),
      h("label", {}, ["scale ", c.normSelect]),
      c.gifButton,
    ]),
    c.thumbs,
    h("div", { class: "convscope-row convscope-pages" }, [c.pagePrev, c.pageLabel, c.pageNext]),
    c.confusion,
  ]);
}

/**
 * The epoch row's and the foldable panels' insides.
 * @param {Controls} c
 */
function fillPanels(c) {
  c.curve.setAttribute("class", "convscope-curve");
  c.curve.setAttribute("viewBox", `0 0 ${CURVE_SIZE[0]} ${CURVE_SIZE[1]}`);
  c.epochRow.append(h("span", { class: "convscope-key", text: "epoch" }), c.epochSlider, c.epochLabel, c.curve);
  c.trainingRow.append(
    h("span", { class: "convscope-key", text: "training" }),
    h("label", {}, [c.followBox, " follow"]),
    c.pauseButton,
    c.stopButton,
    c.trainingText,
  );
  c.panel.append(
    h("summary", { text: "channel panel: its strongest samples, dead or alive" }),
    c.panelText,
    c.panelThumbs,
  );
  c.confusion.append(
    h("summary", { text: "confusion matrix: click a cell to show those samples" }),
    c.confusionTable,
  );
  c.pad.append(
    h("summary", { text: "drawing pad: draw your own digit" }),
    h("div", { class: "convscope-pad-row" }, [
      h("div", { class: "convscope-pad-box" }, [c.padCanvas]),
      h("div", { class: "convscope-pad-side" }, [
        h("span", { text: "Draw a digit inside the dashed box; the figure follows as you draw." }),
        c.padClear,
      ]),
    ]),
  );
}

/**
 * One thumbnail as an `<img>` of an uncompressed BMP (a data URL), not a `<canvas>`: every
 * canvas on a page is a layer of its own that the browser sets up again in each frame, and a
 * page of 48 thumbnail canvases made every frame of JupyterLab's page about 10 ms slower
 * (input to paint included). An image is painted with the rest of its layer.
 * @param {Uint8Array} bytes
 * @param {number} offset
 * @param {number[]} shape `[height, width, channels]`: grey (1) or RGB (3) bytes
 * @returns {HTMLImageElement}
 */
function thumbImage(bytes, offset, [height, width, channels]) {
  const stride = (3 * width + 3) & ~3; // BMP rows are padded to 4 bytes
  const file = new Uint8Array(54 + stride * height);
  const head = new DataView(file.buffer);
  file.set([0x42, 0x4d]); // "BM"
  head.setUint32(2, file.length, true);
  head.setUint32(10, 54, true); // where the pixels start
  head.setUint32(14, 40, true); // BITMAPINFOHEADER
  head.setInt32(18, width, true);
  head.setInt32(22, -height, true); // negative: the first row is the top one
  head.setUint16(26, 1, true); // planes
  head.setUint16(28, 24, true); // bits per pixel: blue, green, red
  head.setUint32(34, stride * height, true);
  const grey = channels === 1;
  for (let y = 0, j = offset; y < height; y += 1) {
    for (let x = 0, k = 54 + y * stride; x < width; x += 1, k += 3, j += channels) {
      file[k] = bytes[grey ? j : j + 2];
      file[k + 1] = bytes[grey ? j : j + 1];
      file[k + 2] = bytes[j];
    }
  }
  let text = "";
  for (let i = 0; i < file.length; i += 0x8000) text += String.fromCharCode(...file.subarray(i, i + 0x8000));
  const image = /** @type {HTMLImageElement} */ (h("img", { alt: "", width: String(width), height: String(height) }));
  image.src = `data:image/bmp;base64,${btoa(text)}`;
  return image;
}

// ----- kernel state -> page ---------------------------------------------------------------------

/**
 * State shared by the two directions of binding.
 * @typedef {Object} Ui
 * @property {HTMLInputElement | null} dragging the slider under the pointer: the kernel's
 *   echo of an older value must not move it back
 * @property {() => void} mirror once the kernel has answered every request, show its state
 *   again in every control: a refused choice (a layer the view cannot show, say) goes back
 * @property {(channel: number) => void} preview paint a channel from the kernel's sweep at once,
 *   before its frame comes (previews.py), where the page holds one for the figure on screen
 * @property {(delta: number) => void} previewStep the same, `delta` channels from the one painted
 *   (clamped at the ends, as the kernel clamps a press)
 * @property {(index: number) => void} previewLayer paint the layer at this place of the slider
 *   from the kernel's move previews at once (move_previews.py), where the page holds one
 * @property {(delta: number) => void} previewLayerStep the same, `delta` layers from the one
 *   in view (clamped at the ends)
 * @property {(delta: number) => void} previewSampleStep the same for a ←/→ step of `delta`
 * @property {(index: number) => void} previewThumb the same for a click on sample `index`'s
 *   thumbnail
 * @property {(index: number) => void} hintThumb tell the kernel that sample `index`'s
 *   thumbnail may be clicked next (the pointer or the focus is on it), once per frame
 */

/**
 * A frame's header, mirrored from frames.FrameHeader: a key frame has `base` 0; any other frame
 * paints over the frame numbered `base`.
 * @typedef {Object} FrameRect
 * @property {number} x
 * @property {number} y
 * @property {number} w
 * @property {number} h
 * @property {number[]} rows run lengths of the folded rows
 * @property {number[]} cols run lengths of the folded columns
 * @property {number} colours palette size; 0: the data are RGBA words
 * @property {number} index_bytes 1 or 2
 * @property {number} offset
 * @property {number} length
 * @property {boolean} deflate
 */

/**
 * @typedef {Object} FrameHeader
 * @property {number} id
 * @property {number} base
 * @property {number} width
 * @property {number} height
 * @property {number} ratio pixels per CSS pixel it was drawn at
 * @property {number} [gen] its generation for the channel previews; 0 or absent: none apply
 * @property {number} [channel] the channel it shows
 * @property {FrameRect[]} rects
 */

/**
 * The kernel's sweep of channel previews, mirrored from previews.SweepHeader: going from
 * channel a to c paints `unders[a]`, `strips[c]`, then `maps[c]` (indices into `rects`).
 * @typedef {Object} SweepHeader
 * @property {number} gen
 * @property {number} base the frame it was made after
 * @property {number} width
 * @property {number} height
 * @property {number} channel
 * @property {number[]} maps
 * @property {number[][]} strips
 * @property {number[][]} unders
 * @property {FrameRect[]} rects
 */

/**
 * One of the kernel's move previews, mirrored from move_previews.MovePreviewHeader: the
 * rectangles that turn the frame `base` into the figure of the move named `move` ("layer 5",
 * "step 1", "step -1").
 * @typedef {Object} MovePreviewHeader
 * @property {number} base
 * @property {number} width
 * @property {number} height
 * @property {string} move
 * @property {number} sample
 * @property {number} channel
 * @property {FrameRect[]} rects
 */

/**
 * @param {Uint8Array} bytes
 * @returns {Promise<ArrayBuffer>} zlib-inflated
 */
function inflate(bytes) {
  // Blob takes only ArrayBuffer-backed views; the kernel's buffers never are shared ones.
  const stream = new Blob([/** @type {BlobPart} */ (bytes)]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Response(stream).arrayBuffer();
}

/**
 * A rectangle's folded pixels as RGBA words, from its palette and indices (or its words).
 * @param {FrameRect} rect
 * @param {Uint8Array} bytes its data, inflated
 * @returns {Uint32Array} `rows.length × cols.length` words
 */
function foldedPixels(rect, bytes) {
  if (!rect.colours) return new Uint32Array(bytes.slice().buffer);
  const palette = new Uint32Array(bytes.slice(0, 4 * rect.colours).buffer);
  const rest = bytes.slice(4 * rect.colours).buffer; // copies: aligned for typed arrays
  const indices = rect.index_bytes === 1 ? new Uint8Array(rest) : new Uint16Array(rest);
  const words = new Uint32Array(indices.length);
  for (let i = 0; i < indices.length; i += 1) words[i] = palette[indices[i]];
  return words;
}

/**
 * Each rectangle's folded pixels, from the data after a message's header (inflated if need be).
 * @param {FrameRect[]} rects
 * @param {Uint8Array} data
 * @returns {Promise<Uint32Array[]>}
 */
function decodeRects(rects, data) {
  return Promise.all(
    rects.map(async (rect) => {
      const chunk = data.subarray(rect.offset, rect.offset + rect.length);
      return foldedPixels(rect, rect.deflate ? new Uint8Array(await inflate(chunk)) : chunk);
    }),
  );
}

/**
 * Unfold a rectangle's distinct pixels into its rows and columns and paint it.
 * @param {CanvasRenderingContext2D} context
 * @param {FrameRect} rect
 * @param {Uint32Array} folded `rows.length × cols.length` RGBA words
 */
function paintRect(context, rect, folded) {
  const image = context.createImageData(rect.w, rect.h);
  const out = new Uint32Array(image.data.buffer);
  const across = rect.cols.length;
  let y = 0;
  rect.rows.forEach((repeat, row) => {
    const start = y * rect.w;
    let x = start;
    for (let col = 0; col < across; col += 1) {
      const run = rect.cols[col];
      out.fill(folded[row * across + col], x, x + run);
      x += run;
    }
    for (let k = 1; k < repeat; k += 1) out.copyWithin(start + k * rect.w, start, start + rect.w);
    y += repeat;
  });
  context.putImageData(image, rect.x, rect.y);
}

/**
 * @param {Uint8Array} bytes a frame or a sweep: a uint32 header length, the header, the data
 * @returns {{header: any, data: Uint8Array}}
 */
function splitMessage(bytes) {
  const size = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + size))), data: bytes.subarray(4 + size) };
}

/**
 * The figure outside ipympl: a canvas that paints the kernel's frames (frames.py), each over
 * the one before. A view that holds no frame, or another one than a frame's base, asks for a
 * key frame. With the kernel's sweep of the generation on screen (previews.py), a channel
 * move is painted at once; the kernel's frame for it then first puts back the channel of the
 * frame on screen, so that what stays is exactly the kernel's figure. `data-frame` names the
 * frame on screen, `data-preview` a channel previewed over it and `data-sweep` the generation
 * of the sweep held (for tests and timing). The kernel's move previews (move_previews.py)
 * paint a layer move or a ←/→ step at once the same way: the pixels a preview covers are kept,
 * and put back before the next frame is painted (`data-preview` is then the move's name,
 * "layer 5" say, and `data-moves` counts the previews held).
 * @param {HTMLCanvasElement} canvas
 * @param {() => void} askForKey
 * @param {() => boolean} pending whether requests are still on their way: a channel previewed
 *   ahead of the frame that came stays painted over it, as that frame is not the last
 */
function makeFigureView(canvas, askForKey, pending) {
  const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  // The width of a frame drawn for this screen: CSS pixels times the device pixel ratio.
  const wanted = (/** @type {FrameHeader} */ header) => {
    const ratio = Math.min(Math.max(window.devicePixelRatio || 1, 1), 3);
    return Math.round((header.width / (header.ratio || 1)) * ratio);
  };
  let shown = 0; // the frame on screen; 0: none
  let shownGen = 0; // its generation
  let shownChannel = -1; // the channel it shows
  let displayed = -1; // the channel painted on screen: shownChannel, or a preview's
  /** @type {{header: SweepHeader, blocks: Uint32Array[]} | null} */
  let sweep = null;
  /** @type {Map<string, {header: MovePreviewHeader, blocks: Uint32Array[]}>} */
  const moves = new Map(); // the move previews over the frame on screen, by the move's name
  /** @type {{kept: ImageData[], rects: FrameRect[]} | null} */
  let moveShown = null; // the move preview on screen, and the frame's pixels it covered
  const hinted = new Set(); // the moves the kernel was asked for over the frame on screen
  let askedRatio = false;
  let askedAt = -Infinity;
  const ask = () => {
    if (performance.now() - askedAt < ASK_AGAIN_MS) return;
    askedAt = performance.now();
    askForKey();
  };
  let queue = Promise.resolve();
  let disposed = false;

  /**
   * Paint the channel `to` over the channel `from`, both of the sweep's generation.
   * @param {{header: SweepHeader, blocks: Uint32Array[]}} s
   * @param {number} from
   * @param {number} to
   */
  function paintChannel(s, from, to) {
    const { rects, maps, strips, unders } = s.header;
    for (const piece of [...unders[from], ...strips[to], maps[to]]) paintRect(context, rects[piece], s.blocks[piece]);
    displayed = to;
    if (to === shownChannel) delete canvas.dataset.preview;
    else canvas.dataset.preview = String(to);
  }

  /** Put back the frame's pixels that a move preview covered. */
  function unpaintMove() {
    if (!moveShown) return;
    const { kept, rects } = moveShown;
    kept.forEach((image, i) => context.putImageData(image, rects[i].x, rects[i].y));
    moveShown = null;
    delete canvas.dataset.preview;
  }

  /** @param {string} move paint the preview of this move; none held: the frame's own pixels */
  function paintMove(move) {
    unpaintMove();
    const entry = moves.get(move);
    if (!entry) return;
    const { rects } = entry.header;
    const kept = rects.map((rect) => context.getImageData(rect.x, rect.y, rect.w, rect.h));
    rects.forEach((rect, i) => paintRect(context, rect, entry.blocks[i]));
    moveShown = { kept, rects };
    canvas.dataset.preview = move;
  }

  /** Whether the sweep held applies to the figure on screen. */
  function sweepFits() {
    return (
      sweep !== null && shown !== 0 && !moveShown && sweep.header.gen === shownGen && sweep.header.width === canvas.width &&
      sweep.header.height === canvas.height && displayed >= 0 && displayed < sweep.header.maps.length
    );
  }

  /** @param {Uint8Array} bytes */
  async function paint(bytes) {
    const { header: h, data } = splitMessage(bytes);
    const header = /** @type {FrameHeader} */ (h);
    if (header.id === shown) return;
    if (header.base === 0 && !askedRatio && header.width !== wanted(header)) {
      askedRatio = true; // once: two screens showing this widget must not take turns
      askForKey(); // a key frame for another screen: ask for one at this screen's pixel ratio
      if (shown) return;
    } else if (header.base !== 0 && header.base !== shown) {
      ask(); // this view missed a frame: start again from a whole one
      return;
    }
    const blocks = await decodeRects(header.rects, data);
    if (disposed) return;
    unpaintMove(); // the frame applies to its base's pixels
    moves.clear();
    hinted.clear();
    delete canvas.dataset.moves;
    const ahead = displayed;
    if (header.base === 0) {
      askedAt = -Infinity;
      if (canvas.width !== header.width) canvas.width = header.width;
      if (canvas.height !== header.height) canvas.height = header.height;
    } else if (sweep && displayed !== shownChannel && sweepFits()) {
      paintChannel(sweep, displayed, shownChannel); // the frame applies to its base's pixels
    }
    header.rects.forEach((rect, i) => paintRect(context, rect, blocks[i]));
    shown = header.id;
    shownGen = header.gen ?? 0;
    displayed = shownChannel = header.channel ?? -1;
    if (sweep && sweep.header.gen !== shownGen) {
      sweep = null;
      delete canvas.dataset.sweep;
    }
    canvas.dataset.frame = String(shown);
    delete canvas.dataset.preview;
    // Moves made since are still on their way: keep showing where the user went.
    if (sweep && ahead !== shownChannel && ahead >= 0 && pending() && sweepFits()) paintChannel(sweep, shownChannel, ahead);
  }

  return {
    /** @param {Model} model */
    show(model) {
      const own = model.get("_figure_mode") === "png";
      canvas.style.display = own ? "" : "none";
      const frame = asBytes(model.get("_figure_frame"));
      if (!own) return;
      if (frame.byteLength === 0) {
        if (!shown) ask();
        return;
      }
      const copy = frame.slice(); // the host may reuse its buffer
      queue = queue.then(() => paint(copy)).catch((error) => console.error("convscope: bad frame", error));
    },
    /** @param {Uint8Array} bytes the kernel's sweep of channel previews */
    takeSweep(bytes) {
      const copy = bytes.slice();
      queue = queue
        .then(() => {
          const { header: h, data } = splitMessage(copy);
          const header = /** @type {SweepHeader} */ (h);
          if (header.base !== shown || header.gen !== shownGen) return; // for another figure
          const blocks = header.rects.map((rect) => foldedPixels(rect, data.subarray(rect.offset, rect.offset + rect.length)));
          sweep = { header, blocks };
          canvas.dataset.sweep = String(header.gen);
        })
        .catch((error) => console.error("convscope: bad sweep", error));
    },
    /**
     * Decoded on its own, not in the line of frames: a frame never waits for a preview.
     * @param {Uint8Array} bytes one of the kernel's move previews
     */
    takeMove(bytes) {
      const { header: h, data } = splitMessage(bytes.slice());
      const header = /** @type {MovePreviewHeader} */ (h);
      if (header.base !== shown) return; // over another frame
      decodeRects(header.rects, data)
        .then((blocks) => {
          if (disposed || header.base !== shown || header.width !== canvas.width || header.height !== canvas.height) return;
          moves.set(header.move, { header, blocks });
          canvas.dataset.moves = String(moves.size);
        })
        .catch((error) => console.error("convscope: bad move preview", error));
    },
    /**
     * Whether to ask the kernel for the move's preview: not held, not asked for over the frame
     * on screen (asking counts as asked).
     * @param {string} move
     */
    wants(move) {
      if (disposed || shown === 0 || moves.has(move) || hinted.has(move)) return false;
      hinted.add(move);
      return true;
    },
    /**
     * Paint the move now, if a preview of it over the frame on screen is held, nothing is on
     * its way (a preview is of a move from the frame) and no channel is previewed; a move to
     * the frame's own layer puts back the frame's pixels.
     * @param {string} move "layer 5", "step 1"...
     */
    previewMove(move) {
      if (disposed || shown === 0 || pending() || displayed !== shownChannel) return;
      if (moves.size || moveShown) paintMove(move);
    },
    /** @param {number} channel paint it now, if the sweep held applies */
    preview(channel) {
      if (disposed || !sweep || !sweepFits() || channel < 0 || channel >= sweep.header.maps.length) return;
      if (channel !== displayed) paintChannel(sweep, displayed, channel);
    },
    /**
     * Every request answered: a move previewed goes, a channel previewed but not the frame's
     * goes back to the frame's. After the rest of the message that brought the answer: its
     * frame comes after the ack there (ipywidgets puts binary values back last), and is painted
     * first, or the figure before it would show while the frame is inflated.
     */
    settle() {
      queueMicrotask(() => {
        queue = queue.then(() => {
          if (disposed) return;
          unpaintMove();
          if (sweep && displayed !== shownChannel && sweepFits()) paintChannel(sweep, displayed, shownChannel);
        });
      });
    },
    /** @param {number} delta paint the channel `delta` from the one painted, clamped */
    previewStep(delta) {
      if (disposed || !sweep || !sweepFits()) return;
      const channel = Math.min(Math.max(displayed + delta, 0), sweep.header.maps.length - 1);
      if (channel !== displayed) paintChannel(sweep, displayed, channel);
    },
    dispose() {
      disposed = true;
    },
  };
}

/**
 * @param {Model} model
 * @param {number} index
 */
function layerText(model, index) {
  return model.get("_layer_options")[index]?.text ?? "";
}

/**
 * @param {Model} model
 * @param {number} index
 */
function channelText(model, index) {
  return `${model.get("_unit_name")} ${index} of ${model.get("_channel_count")}`;
}

/**
 * What a screen reader says for the channel slider: the channel and the layer it belongs to.
 * @param {Model} model
 * @param {number} index
 */
function channelSpoken(model, index) {
  const layer = model.get("_layer_options")[layerIndex(model)];
  return layer ? `${channelText(model, index)}, layer ${layer.name}` : channelText(model, index);
}

/**
 * The place of the layer in view among the layers the slider shows.
 * @param {Model} model
 */
function layerIndex(model) {
  return Math.max(0, model.get("_layer_options").findIndex((info) => info.name === model.get("layer")));
}

/**
 * Show a slider's value in its label, and give screen readers the same words: "conv2", not "3".
 * @param {HTMLInputElement} slider
 * @param {HTMLElement} label
 * @param {string} text shown
 * @param {string} [spoken] said, when it differs from what is shown
 */
function labelSlider(slider, label, text, spoken = text) {
  setText(label, text);
  setAttr(slider, "aria-valuetext", spoken);
}

/**
 * Write a control's value only where it differs: every answer mirrors every control, and
 * writing a select's value, even the same one, selects its option again (up to 2 ms a frame
 * on a busy page).
 * @param {HTMLInputElement | HTMLSelectElement} control
 * @param {string} value
 */
function setValue(control, value) {
  // A number box holding text that is no number reads "" but shows the text: write it away.
  const bad = control instanceof HTMLInputElement && control.validity.badInput;
  if (bad || control.value !== value) control.value = value;
}

/**
 * @param {HTMLElement} element
 * @param {string} text its text, written only where it differs (no relayout for the same)
 */
function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/**
 * @param {Element} element
 * @param {string} name
 * @param {string} value written only where it differs
 */
function setAttr(element, name, value) {
  if (element.getAttribute(name) !== value) element.setAttribute(name, value);
}

/**
 * @param {Model} model
 * @param {Controls} c
 * @param {Ui} ui
 */
function showLayer(model, c, ui) {
  setAttr(c.layerSlider, "max", String(model.get("_layer_options").length - 1));
  if (ui.dragging !== c.layerSlider) setValue(c.layerSlider, String(layerIndex(model)));
  labelSlider(c.layerSlider, c.layerLabel, layerText(model, Number(c.layerSlider.value)));
  setAttr(c.layerLabel, "title", c.layerLabel.textContent ?? "");
  setAttr(c.channelSlider, "aria-valuetext", channelSpoken(model, Number(c.channelSlider.value)));
}

/**
 * @param {Model} model
 * @param {Controls} c
 * @param {Ui} ui
 */
function showChannel(model, c, ui) {
  setAttr(c.channelSlider, "max", String(model.get("_channel_count") - 1));
  if (ui.dragging !== c.channelSlider) setValue(c.channelSlider, String(model.get("channel")));
  const channel = Number(c.channelSlider.value);
  labelSlider(c.channelSlider, c.channelLabel, channelText(model, channel), channelSpoken(model, channel));
}

/**
 * @param {Model} model
 * @param {HTMLSelectElement} select
 * @param {boolean} enabled
 */
function fillClassSelect(model, select, enabled) {
  select.replaceChildren(option(-1, "any"), ...model.get("_class_names").map((name, i) => option(i, name)));
  select.disabled = !enabled;
}

/**
 * @param {Model} model
 * @param {Controls} c
 */
function showOptions(model, c) {
  fillClassSelect(model, c.trueSelect, model.get("_has_labels"));
  fillClassSelect(model, c.predSelect, model.get("_has_predictions"));
  c.wrongBox.disabled = !(model.get("_has_labels") && model.get("_has_predictions"));
  c.cmapSelect.replaceChildren(...model.get("_cmap_options").map((name) => option(name, name)));
  c.normSelect.replaceChildren(
    ...model.get("_norm_options").map((name) => option(name, name === "fixed" ? "fixed (data set)" : name)),
  );
  c.sortSelect.replaceChildren(...model.get("_sort_options").map((name) => option(name, SORT_NAMES[name] ?? name)));
  c.viewSelect.replaceChildren(...model.get("_view_options").map((name) => option(name, VIEW_NAMES[name] ?? name)));
  c.classSelect.replaceChildren(
    option(-1, "the predicted one"),
    ...model.get("_class_names").map((name, i) => option(i, name)),
  );
  showValues(model, c);
}

/**
 * @param {Model} model
 * @param {Controls} c
 */
function showValues(model, c) {
  setValue(c.trueSelect, String(model.get("filter_true")));
  setValue(c.predSelect, String(model.get("filter_predicted")));
  c.wrongBox.checked = model.get("misclassified_only");
  setValue(c.cmapSelect, model.get("cmap"));
  setValue(c.normSelect, model.get("norm"));
  setValue(c.viewSelect, model.get("view"));
  setValue(c.sortSelect, model.get("_sort"));
  setValue(c.classSelect, String(model.get("target_class") ?? -1));
  c.classLabel.hidden = model.get("view") !== "grad-cam";
}

/**
 * @param {Model} model
 * @param {Controls} c
 */
function showSample(model, c) {
  setText(c.sampleLabel, model.get("_sample_text"));
  const sample = model.get("sample");
  c.pad.classList.toggle("drawn", sample === "drawn");
  const current = sample === "drawn" ? "" : String(sample); // the drawing: no thumbnail
  for (const cell of /** @type {HTMLElement[]} */ ([...c.thumbs.children])) {
    cell.classList.toggle("current", cell.dataset.index === current);
  }
}

/**
 * Which sample is B, how the two are shown, and B's thumbnail marked.
 * @param {Model} model
 * @param {Controls} c
 */
function showCompare(model, c) {
  const compare = model.get("compare") ?? -1;
  const on = compare >= 0;
  if (c.compareMode.options.length === 0) {
    c.compareMode.replaceChildren(...Object.entries(COMPARE_MODE_NAMES).map(([mode, name]) => option(mode, name)));
  }
  setValue(c.compareMode, model.get("compare_mode"));
  const focused = /** @type {Document | ShadowRoot} */ (c.root.getRootNode()).activeElement;
  if (focused !== c.compareInput) setValue(c.compareInput, on ? String(compare) : "");
  c.compareClear.disabled = !on;
  const where = model.get("compare_mode") === "side" ? "the lower row" : "A − B in the grid";
  setText(c.compareLabel, on ? `B: ${model.get("_compare_text")}  ·  ${where}` : "off");
  for (const cell of /** @type {HTMLElement[]} */ ([...c.thumbs.children])) {
    cell.classList.toggle("compared", cell.dataset.index === String(compare));
  }
}

/**
 * Redraw the page of thumbnails. Focus on a thumbnail that is replaced moves to its successor
 * (or the widget), so that ←/→ keep working instead of reaching the notebook.
 * @param {Model} model
 * @param {Controls} c
 */
function showThumbs(model, c) {
  const metas = model.get("_thumb_meta");
  const cells = thumbButtons(
    model,
    model.get("_thumbs"),
    metas.map((meta) => meta.index),
    metas.map((meta) => meta.caption),
  );
  metas.forEach((meta, i) => {
    cells[i].classList.toggle("wrong", meta.label >= 0 && meta.predicted >= 0 && meta.label !== meta.predicted);
  });
  const focused = /** @type {Document | ShadowRoot} */ (c.root.getRootNode()).activeElement;
  const hadFocus = focused !== null && c.thumbs.contains(focused);
  c.thumbs.replaceChildren(...cells);
  c.pageLabel.textContent =
    `page ${model.get("page") + 1} of ${model.get("_page_count")}  ·  ${model.get("_filtered_count")} samples`;
  showSample(model, c);
  showCompare(model, c);
  if (hadFocus) {
    const next = /** @type {HTMLElement | null} */ (c.thumbs.querySelector(".current")) ?? c.root;
    next.focus({ preventScroll: true });
  }
}

/**
 * Thumbnail buttons, one per sample; `captions` gives each one's text.
 * @param {Model} model
 * @param {DataView} data
 * @param {number[]} indices
 * @param {string[]} captions
 */
function thumbButtons(model, data, indices, captions) {
  const bytes = asBytes(data);
  const shape = model.get("_thumb_shape");
  const size = shape[0] * shape[1] * shape[2];
  return indices.map((index, i) => {
    const name = `sample ${index}: ${captions[i]}`;
    return h("button", { class: "convscope-thumb", title: `sample ${index}`, "aria-label": name, "data-index": String(index) }, [
      thumbImage(bytes, i * size, shape),
      h("span", { text: captions[i] }),
    ]);
  });
}

/**
 * The epoch slider and the training curve: accuracy (solid: training, dashed: held out) and
 * loss (grey), with the epoch shown marked.
 * @param {Model} model
 * @param {Controls} c
 * @param {Ui} ui
 */
function showEpoch(model, c, ui) {
  const epochs = model.get("_epochs");
  c.epochRow.hidden = epochs.length === 0;
  if (!epochs.length) return;
  const index = Math.max(0, epochs.indexOf(model.get("epoch") ?? -1));
  setAttr(c.epochSlider, "max", String(epochs.length - 1));
  if (ui.dragging !== c.epochSlider) setValue(c.epochSlider, String(index));
  labelSlider(c.epochSlider, c.epochLabel, epochText(model, index));
  const [width, height] = CURVE_SIZE;
  const last = Math.max(1, epochs[epochs.length - 1]);
  const x = (/** @type {number} */ epoch) => (epoch / last) * (width - 4) + 2;
  const history = model.get("_history");
  const loss = history.loss ?? [];
  const top = Math.max(1e-9, ...loss.filter((v) => v !== null));
  /** @param {(number | null)[]} values @param {number} scale */
  const path = (values, scale) =>
    values
      .map((v, i) => (v === null ? "" : `${x(epochs[i]).toFixed(1)},${(height - 2 - (v / scale) * (height - 4)).toFixed(1)}`))
      .filter(Boolean)
      .join(" ");
  /** @param {string} tag @param {Record<string, string>} attributes */
  const shape = (tag, attributes) => {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    return node;
  };
  const lines = [
    ["loss", loss, top, "#9aa5b1", ""],
    ["accuracy", history.accuracy ?? [], 1, "#2f6fdf", ""],
    ["held-out accuracy", history.val_accuracy ?? [], 1, "#2f6fdf", "3 2"],
  ];
  const marker = x(epochs[index]).toFixed(1);
  c.curve.replaceChildren(
    ...lines.map(([title, values, scale, colour, dash]) => {
      const line = shape("polyline", {
        points: path(/** @type {(number | null)[]} */ (values), /** @type {number} */ (scale)),
        fill: "none",
        stroke: /** @type {string} */ (colour),
        "stroke-width": "1.5",
        "stroke-dasharray": /** @type {string} */ (dash),
      });
      line.append(shape("title", {}));
      /** @type {Element} */ (line.firstChild).textContent = /** @type {string} */ (title);
      return line;
    }),
    shape("line", { x1: marker, x2: marker, y1: "0", y2: String(height), stroke: "#ff2d55", "stroke-width": "1.5" }),
  );
}

/**
 * @param {Model} model
 * @param {number} index
 */
function epochText(model, index) {
  const epochs = model.get("_epochs");
  const history = model.get("_history");
  const validation = (history.val_accuracy ?? [])[index];
  const accuracy = validation ?? (history.accuracy ?? [])[index];
  const score = accuracy === null || accuracy === undefined ? "" : `  ·  accuracy ${(100 * accuracy).toFixed(1)}%`;
  const training = model.get("_training") ?? {};
  if (!training.state) return `epoch ${epochs[index]} of ${epochs[epochs.length - 1]}${score}`;
  // A live run counts training steps (batches); an epoch is steps_per_epoch of them.
  const perEpoch = training.steps_per_epoch;
  const epoch = perEpoch ? ` (epoch ${(epochs[index] / perEpoch).toFixed(1)})` : "";
  return `step ${epochs[index]}${epoch} of ${epochs[epochs.length - 1]}${score}`;
}

/**
 * The live training row: follow, pause or resume, stop, and what training does. The buttons
 * only show where the kernel can hear them (`ex.fit`'s thread, not a blocking `fit` in a cell).
 * @param {Model} model
 * @param {Controls} c
 */
function showTraining(model, c) {
  const training = model.get("_training") ?? {};
  c.trainingRow.hidden = !training.state;
  if (!training.state) return;
  const running = ["running", "paused", "stopping"].includes(training.state);
  const paused = training.state === "paused";
  c.followBox.checked = Boolean(training.follow);
  c.pauseButton.hidden = c.stopButton.hidden = !training.controls;
  c.pauseButton.disabled = !running || training.state === "stopping";
  c.stopButton.disabled = !running || training.state === "stopping";
  c.pauseButton.textContent = paused ? "▶ resume" : "❚❚ pause";
  c.pauseButton.setAttribute("aria-label", paused ? "resume training" : "pause training");
  c.trainingText.textContent = training.text;
}

/**
 * Teaching mode: larger type and controls, and a caption under each panel of the figure.
 * @param {Model} model
 * @param {Controls} c
 */
function showTeaching(model, c) {
  const on = model.get("_teaching");
  c.root.classList.toggle("convscope-teaching", on);
  c.captions.hidden = !on;
  c.captions.replaceChildren(...model.get("_captions").map((text) => h("span", { text })));
}

/**
 * Hand the kernel's file (a GIF) to the browser as a download.
 * @param {Model} model
 */
function offerDownload(model) {
  const data = model.get("_download");
  if (!data || data.byteLength === 0) return;
  const url = URL.createObjectURL(new Blob([/** @type {BlobPart} */ (asBytes(data))], { type: "image/gif" }));
  const link = /** @type {HTMLAnchorElement} */ (h("a", { href: url, download: model.get("_download_name") }));
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * The channel panel: whether the channel is dead, how often it fires, its strongest samples.
 * @param {Model} model
 * @param {Controls} c
 */
function showPanel(model, c) {
  c.panel.open = model.get("_panel_open");
  c.panelText.textContent = model.get("_panel_text");
  const meta = model.get("_panel_meta");
  c.panelThumbs.replaceChildren(
    ...thumbButtons(
      model,
      model.get("_panel_thumbs"),
      meta.map((m) => m.index),
      meta.map((m) => m.peak.toPrecision(3)),
    ),
  );
}

/**
 * The confusion matrix: counts of (true, predicted) pairs, each a button that filters to them.
 * @param {Model} model
 * @param {Controls} c
 */
function showConfusion(model, c) {
  const counts = model.get("_confusion");
  c.confusion.hidden = counts.length === 0;
  const names = model.get("_class_names");
  const top = Math.log1p(Math.max(1, ...counts.flat()));
  const chosen = [model.get("filter_true"), model.get("filter_predicted")];
  const header = h("tr", {}, [
    h("th", { text: "true \\ predicted" }),
    ...names.map((name) => h("th", { text: name })),
  ]);
  const rows = counts.map((row, t) =>
    h("tr", {}, [
      h("th", { text: names[t] ?? String(t) }),
      ...row.map((count, p) => {
        const here = t === chosen[0] && p === chosen[1];
        const cell = h("button", {
          class: `convscope-cell${t === p ? " diagonal" : ""}${here ? " current" : ""}`,
          "data-true": String(t),
          "data-predicted": String(p),
          title: `${count} samples: true ${names[t]}, predicted ${names[p]}`,
          text: String(count),
        });
        cell.style.setProperty("--level", (Math.log1p(count) / top).toFixed(3));
        return h("td", {}, [cell]);
      }),
    ]),
  );
  c.confusionTable.replaceChildren(header, ...rows);
}

/**
 * @param {Model} model
 * @param {Controls} c
 */
function showMessages(model, c) {
  for (const [box, text] of [
    [c.errorBox, model.get("_error")],
    [c.statusBox, model.get("_status")],
  ]) {
    const node = /** @type {HTMLElement} */ (box);
    node.textContent = /** @type {string} */ (text);
    node.style.display = text ? "" : "none";
  }
}

/**
 * In marimo (`_echo_acks`), write back the ack the page has shown once no request is in
 * flight: marimo runs the cells that read `mo.ui.anywidget(explorer).value` again only for a
 * change the page makes (explorer_state.py). The echo is a private trait: it undoes nothing.
 * @param {Model} model
 * @param {ReturnType<typeof makeRequester>} request
 */
function echoAck(model, request) {
  const ack = model.get("_ack");
  if (!model.get("_echo_acks") || !request.idle() || ack === model.get("_shown")) return;
  model.set("_shown", ack);
  model.save_changes();
}

/**
 * Draw the kernel's state and redraw each part when its traits change.
 * @param {Model} model
 * @param {Controls} c
 * @param {Ui} ui
 * @param {ReturnType<typeof makeRequester>} request asks for whole frames of the figure
 * @returns {() => void} removes every model listener
 */
function bindModel(model, c, ui, request) {
  const figure = makeFigureView(
    c.figure,
    () => request.frame(),
    () => !request.idle(),
  );
  ui.preview = (channel) => figure.preview(channel);
  ui.previewStep = (delta) => figure.previewStep(delta);
  ui.previewLayer = (index) => figure.previewMove(`layer ${index}`);
  ui.previewLayerStep = (delta) => {
    const last = model.get("_layer_options").length - 1;
    ui.previewLayer(Math.min(Math.max(layerIndex(model) + delta, 0), last));
  };
  ui.previewSampleStep = (delta) => figure.previewMove(`step ${delta}`);
  ui.previewThumb = (index) => figure.previewMove(`sample ${index}`);
  ui.hintThumb = (index) => {
    if (figure.wants(`sample ${index}`)) model.send({ type: "ahead", sample: index });
  };
  // The kernel's previews come as messages of their own, not traits.
  const offSweep = onModel(model, ["msg:custom"], (/** @type {{type?: string}} */ content, /** @type {DataView[]} */ buffers) => {
    if (!buffers?.length) return;
    if (content?.type === "sweep") figure.takeSweep(asBytes(buffers[0]));
    else if (content?.type === "move") for (const buffer of buffers) figure.takeMove(asBytes(buffer));
  });
  // The controls a user sets: what they show comes back from the kernel after every answer,
  // refused or not, once no request of theirs is left on the way.
  const controls = [
    () => showLayer(model, c, ui),
    () => showChannel(model, c, ui),
    () => showValues(model, c),
    () => showCompare(model, c),
    () => showEpoch(model, c, ui),
    () => showSample(model, c),
  ];
  ui.mirror = () => {
    if (!request.idle()) return;
    figure.settle(); // a preview the kernel did not follow (a press past the end, a refusal)
    for (const show of controls) show();
  };
  /** @type {[(keyof ExplorerState)[], () => void][]} */
  const parts = [
    [["layer", "_layer_options"], () => showLayer(model, c, ui)],
    [["channel", "_channel_count", "_unit_name"], () => showChannel(model, c, ui)],
    [
      ["_class_names", "_has_labels", "_has_predictions", "_cmap_options", "_norm_options", "_view_options", "_sort_options"],
      () => showOptions(model, c),
    ],
    [
      // and on "_error": a refused choice (a view while comparing, say) shows the kept one again
      ["cmap", "norm", "view", "target_class", "_sort", "filter_true", "filter_predicted", "misclassified_only", "_error"],
      () => showValues(model, c),
    ],
    [["_confusion", "_class_names", "filter_true", "filter_predicted"], () => showConfusion(model, c)],
    [["_panel_open", "_panel_text", "_panel_thumbs", "_panel_meta"], () => showPanel(model, c)],
    [["_epochs", "epoch", "_history", "_training"], () => showEpoch(model, c, ui)],
    [["_training"], () => showTraining(model, c)],
    [["_download"], () => offerDownload(model)],
    [["_teaching", "_captions"], () => showTeaching(model, c)],
    [["_thumbs", "_thumb_meta", "_thumb_shape", "page", "_page_count", "_filtered_count"], () => showThumbs(model, c)],
    [["_sample_text", "sample"], () => showSample(model, c)],
    [["compare", "compare_mode", "_compare_text", "_error"], () => showCompare(model, c)],
    [["_pad"], () => (c.pad.hidden = model.get("_pad").length === 0)],
    [["_error", "_status"], () => showMessages(model, c)],
    [["_ack", "_error"], () => ui.mirror()],
    [["_ack"], () => (c.root.dataset.ack = String(model.get("_ack")))], // for tests and timing
    [["_ack"], () => echoAck(model, request)],
  ];
  // A message from the kernel changes several traits, one change event each: each part but
  // the figure is marked, and shown once after the last of them (a page of thumbnails is
  // built once, not once per trait). The figure takes every frame as it comes: each applies
  // to the one before.
  /** @type {Set<() => void>} */
  const due = new Set(); // a flush is queued while it holds any
  let unbound = false;
  const flush = () => {
    if (unbound) return;
    const shows = parts.map(([, show]) => show).filter((show) => due.has(show));
    due.clear();
    for (const show of shows) {
      try {
        show();
      } catch (error) {
        console.error("convscope: could not show a part of the widget", error); // the rest still
      }
    }
  };
  const showFigure = () => figure.show(model);
  showFigure();
  const offFigure = onChange(model, ["_figure_frame", "_figure_mode"], showFigure);
  const offs = parts.map(([names, show]) => {
    show();
    return onChange(model, names, () => {
      if (due.size === 0) queueMicrotask(flush);
      due.add(show);
    });
  });
  return () => {
    unbound = true;
    offFigure();
    for (const off of offs) off();
    offSweep();
    figure.dispose();
  };
}

// ----- page -> kernel requests ------------------------------------------------------------------

/**
 * Send a slider's value on every `input`; remember which slider is being dragged.
 * @param {HTMLInputElement} slider
 * @param {Ui} ui
 * @param {(value: number) => void} send
 * @returns {(() => void)[]}
 */
function onSlide(slider, ui, send) {
  const stop = () => {
    if (ui.dragging !== slider) return;
    ui.dragging = null;
    ui.mirror(); // a value refused while the slider was held goes back now
  };
  return [
    listen(slider, "pointerdown", () => (ui.dragging = slider)),
    listen(slider, "pointerup", stop),
    listen(slider, "change", stop),
    listen(slider, "input", () => send(Number(slider.value))),
  ];
}

/**
 * The play button: one step every PLAY_INTERVAL_MS until pressed again.
 * @param {HTMLButtonElement} button
 * @param {ReturnType<typeof makeRequester>} request
 */
function makePlayer(button, request) {
  let playing = 0;
  const stop = () => {
    clearInterval(playing);
    playing = 0;
    button.textContent = "▶ play";
    button.setAttribute("aria-label", "play");
  };
  const toggle = () => {
    if (playing) return stop();
    playing = setInterval(() => request.step(1), PLAY_INTERVAL_MS);
    button.textContent = "❚❚ pause";
    button.setAttribute("aria-label", "pause");
  };
  return { toggle, stop };
}

/**
 * Turn the user's input into requests to the kernel.
 * @param {Model} model
 * @param {Controls} c
 * @param {Ui} ui
 * @param {ReturnType<typeof makeRequester>} request
 * @returns {() => void} stops playing and removes the listeners
 */
function bindInputs(model, c, ui, request) {
  const player = makePlayer(c.playButton, request);
  const sendFilter = () =>
    request.filter({
      true: Number(c.trueSelect.value),
      predicted: Number(c.predSelect.value),
      misclassified: c.wrongBox.checked,
    });
  const offs = [
    ...onSlide(c.layerSlider, ui, (index) => {
      labelSlider(c.layerSlider, c.layerLabel, layerText(model, index));
      c.layerLabel.title = c.layerLabel.textContent ?? "";
      ui.previewLayer(index);
      request.view({ layer: model.get("_layer_options")[index].name });
    }),
    ...onSlide(c.channelSlider, ui, (index) => {
      labelSlider(c.channelSlider, c.channelLabel, channelText(model, index), channelSpoken(model, index));
      ui.preview(index);
      request.view({ channel: index });
    }),
    ...onSlide(c.epochSlider, ui, (index) => {
      labelSlider(c.epochSlider, c.epochLabel, epochText(model, index));
      request.epoch(model.get("_epochs")[index]);
    }),
    listen(c.figure, "click", (/** @type {MouseEvent} */ event) => {
      // The PNG figure: the kernel finds the unit under the click on the selected channel.
      const box = c.figure.getBoundingClientRect();
      if (box.width > 0 && box.height > 0) {
        request.probe({ x: (event.clientX - box.left) / box.width, y: (event.clientY - box.top) / box.height });
      }
    }),
    listen(c.playButton, "click", player.toggle),
    listen(c.prevButton, "click", () => {
      ui.previewSampleStep(-1);
      request.step(-1);
    }),
    listen(c.nextButton, "click", () => {
      ui.previewSampleStep(1);
      request.step(1);
    }),
    listen(c.trueSelect, "change", sendFilter),
    listen(c.predSelect, "change", sendFilter),
    listen(c.wrongBox, "change", sendFilter),
    listen(c.cmapSelect, "change", () => request.view({ cmap: c.cmapSelect.value })),
    listen(c.normSelect, "change", () => request.view({ norm: c.normSelect.value })),
    listen(c.viewSelect, "change", () => request.view({ view: c.viewSelect.value })),
    listen(c.sortSelect, "change", () => request.sort(c.sortSelect.value)),
    listen(c.gifButton, "click", () => request.gif(20)),
    listen(c.followBox, "change", () => request.training(c.followBox.checked ? "follow" : "unfollow")),
    listen(c.pauseButton, "click", () =>
      request.training(model.get("_training").state === "paused" ? "resume" : "pause"),
    ),
    listen(c.stopButton, "click", () => request.training("stop")),
    listen(c.panel, "toggle", () => {
      if (c.panel.open !== model.get("_panel_open")) request.panel(c.panel.open);
    }),
    listen(c.panelThumbs, "click", (/** @type {MouseEvent} */ event) => {
      const cell = /** @type {HTMLElement} */ (event.target).closest("button.convscope-thumb");
      if (!(cell instanceof HTMLElement)) return;
      ui.previewThumb(Number(cell.dataset.index));
      request.view({ sample: Number(cell.dataset.index) });
    }),
    listen(c.confusionTable, "click", (/** @type {MouseEvent} */ event) => {
      const cell = /** @type {HTMLElement} */ (event.target).closest("button.convscope-cell");
      if (!(cell instanceof HTMLElement)) return;
      const pair = [Number(cell.dataset.true), Number(cell.dataset.predicted)];
      const again = pair[0] === model.get("filter_true") && pair[1] === model.get("filter_predicted");
      // A second click on the chosen cell clears the filter.
      request.filter({ true: again ? -1 : pair[0], predicted: again ? -1 : pair[1], misclassified: false });
    }),
    listen(c.classSelect, "change", () => request.view({ target_class: Number(c.classSelect.value) })),
    listen(c.thumbs, "click", (/** @type {MouseEvent} */ event) => {
      const cell = /** @type {HTMLElement} */ (event.target).closest("button.convscope-thumb");
      if (!(cell instanceof HTMLElement)) return;
      const index = Number(cell.dataset.index);
      // After "pick B", one click on a thumbnail chooses sample B; A stays.
      if (armPick(c, false)) request.view({ compare: index });
      else {
        ui.previewThumb(index);
        request.view({ sample: index });
      }
    }),
    // A thumbnail under the pointer or in focus may be clicked next: the kernel makes it ahead.
    ...[c.thumbs, c.panelThumbs].flatMap((box) =>
      ["pointerover", "focusin"].map((type) =>
        listen(box, type, (/** @type {Event} */ event) => {
          const cell = /** @type {HTMLElement} */ (event.target).closest("button.convscope-thumb");
          if (cell instanceof HTMLElement) ui.hintThumb(Number(cell.dataset.index));
        }),
      ),
    ),
    listen(c.comparePick, "click", () => armPick(c, c.comparePick.getAttribute("aria-pressed") !== "true")),
    listen(c.compareInput, "change", () => {
      const text = c.compareInput.value.trim();
      request.view({ compare: text === "" ? -1 : Number(text) });
    }),
    listen(c.compareMode, "change", () => request.view({ compare_mode: c.compareMode.value })),
    listen(c.compareClear, "click", () => {
      armPick(c, false);
      request.view({ compare: -1 });
    }),
    listen(c.pagePrev, "click", () => request.page(Math.max(0, model.get("page") - 1))),
    listen(c.pageNext, "click", () => request.page(model.get("page") + 1)),
  ];
  return () => {
    player.stop();
    for (const off of offs) off();
  };
}

/**
 * Arm (or disarm) "pick B": the next thumbnail click chooses sample B. Returns whether it was
 * armed before.
 * @param {Controls} c
 * @param {boolean} armed
 */
function armPick(c, armed) {
  const was = c.comparePick.getAttribute("aria-pressed") === "true";
  c.comparePick.setAttribute("aria-pressed", String(armed));
  c.thumbs.classList.toggle("picking", armed);
  return was;
}

/**
 * The drawing pad: pointer and touch strokes, white on black, with MNIST's stroke width. Each
 * stroke asks the requester to send the pad; it reads the pixels when the kernel is ready for
 * them (one request in flight), so a fast stroke sends only its newest state.
 * @param {Controls} c
 * @param {ReturnType<typeof makeRequester>} request
 * @returns {() => void} removes the listeners
 */
function bindPad(c, request) {
  const canvas = c.padCanvas;
  const pen = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  const small = /** @type {HTMLCanvasElement} */ (document.createElement("canvas"));
  small.width = small.height = PAD_SENT;
  const shrink = /** @type {CanvasRenderingContext2D} */ (small.getContext("2d", { willReadFrequently: true }));
  const clear = () => {
    pen.fillStyle = "#000";
    pen.fillRect(0, 0, PAD_SIZE, PAD_SIZE);
  };
  const read = () => {
    shrink.imageSmoothingQuality = "high";
    shrink.drawImage(canvas, 0, 0, PAD_SENT, PAD_SENT);
    const rgba = shrink.getImageData(0, 0, PAD_SENT, PAD_SENT).data;
    const grey = new Uint8Array(PAD_SENT * PAD_SENT);
    for (let i = 0; i < grey.length; i += 1) grey[i] = rgba[4 * i];
    return grey;
  };
  const send = () => request.draw({ width: PAD_SENT, height: PAD_SENT, read });
  /** @param {PointerEvent} event @returns {[number, number]} */
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) / box.width) * PAD_SIZE, ((event.clientY - box.top) / box.height) * PAD_SIZE];
  };
  /** @type {[number, number] | null} */
  let last = null;
  /** @param {[number, number]} from @param {[number, number]} to */
  const stroke = (from, to) => {
    pen.strokeStyle = "#fff";
    pen.lineWidth = PAD_BRUSH;
    pen.lineCap = pen.lineJoin = "round";
    pen.beginPath();
    pen.moveTo(...from);
    pen.lineTo(...to);
    pen.stroke();
  };
  const lift = () => {
    last = null;
  };
  clear();
  const offs = [
    listen(canvas, "pointerdown", (/** @type {PointerEvent} */ event) => {
      event.preventDefault();
      canvas.focus({ preventScroll: true });
      try {
        canvas.setPointerCapture(event.pointerId); // the stroke goes on outside the pad
      } catch {
        // a pointer the browser does not track (a synthetic event): draw without capture
      }
      last = at(event);
      stroke(last, last);
      send();
    }),
    listen(canvas, "pointermove", (/** @type {PointerEvent} */ event) => {
      if (!last) return;
      const point = at(event);
      stroke(last, point);
      last = point;
      send();
    }),
    listen(canvas, "pointerup", lift),
    listen(canvas, "pointercancel", lift),
    listen(c.padClear, "click", () => {
      clear();
      send();
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}

// ----- the keyboard -----------------------------------------------------------------------------

/**
 * Chords with Ctrl, Alt or Meta, and Shift+Enter, belong to the notebook (save, run the cell);
 * every other key pressed in the widget stays in it.
 * @param {KeyboardEvent} event
 */
function belongsToHost(event) {
  return event.ctrlKey || event.altKey || event.metaKey || (event.shiftKey && event.key === "Enter");
}

/**
 * The move a key asks for, except where the focused control uses the key itself: ←/→ step
 * through the samples, ↑/↓ through the channels, PageUp/PageDown through the layers.
 * @param {KeyboardEvent} event
 * @returns {{what: "sample" | "channel" | "layer", delta: number} | null}
 */
function keyMove(event) {
  /** @type {Record<string, ["sample" | "channel" | "layer", number]>} */
  const moves = {
    ArrowLeft: ["sample", -1],
    ArrowRight: ["sample", 1],
    ArrowUp: ["channel", 1],
    ArrowDown: ["channel", -1],
    PageUp: ["layer", -1],
    PageDown: ["layer", 1],
  };
  const move = moves[event.key];
  const target = event.target;
  if (!move || event.shiftKey || target instanceof HTMLSelectElement) return null;
  // A slider or a number field moves by the arrows itself (and ←/→ move a field's caret).
  if (target instanceof HTMLInputElement && (target.type === "range" || target.type === "number")) return null;
  return { what: move[0], delta: move[1] };
}

/**
 * Let one chord reach JupyterLab's shortcuts: lift SUPPRESS_SHORTCUTS from the target and the
 * root until the event has been dispatched. (JupyterLab ≥ 4.1 handles shortcuts as the event
 * bubbles up to the document, after this listener on the widget's root.)
 * @param {KeyboardEvent} event
 * @param {HTMLElement} root
 */
function liftSuppression(event, root) {
  const marked = [event.target, root].filter(
    (node) => node instanceof Element && node.hasAttribute(SUPPRESS_SHORTCUTS),
  );
  for (const node of /** @type {Element[]} */ (marked)) node.removeAttribute(SUPPRESS_SHORTCUTS);
  setTimeout(() => {
    for (const node of /** @type {Element[]} */ (marked)) node.setAttribute(SUPPRESS_SHORTCUTS, "true");
  });
}

/**
 * Keys in the widget: ←/→ samples, ↑/↓ channels, PageUp/PageDown layers, and no single key
 * reaches the host's shortcuts. Stopping the
 * event covers hosts that listen while it bubbles (JupyterLab ≥ 4.1, Notebook 7, marimo,
 * classic Notebook); SUPPRESS_SHORTCUTS covers JupyterLab builds that listen while it is
 * captured, before any listener of ours can run.
 * @param {Controls} c
 * @param {Ui} ui
 * @param {ReturnType<typeof makeRequester>} request
 * @returns {() => void}
 */
function bindKeys(c, ui, request) {
  return listen(c.root, "keydown", (/** @type {KeyboardEvent} */ event) => {
    if (belongsToHost(event)) {
      liftSuppression(event, c.root);
      return;
    }
    event.stopPropagation();
    const move = keyMove(event);
    if (!move) return;
    event.preventDefault();
    // Steps, not positions: the kernel adds up presses that come faster than its answers.
    if (move.what === "sample") {
      ui.previewSampleStep(move.delta);
      request.step(move.delta);
    } else {
      if (move.what === "channel") ui.previewStep(move.delta);
      else ui.previewLayerStep(move.delta);
      request.move(move.what, move.delta);
    }
  });
}

/**
 * ipympl's canvas (`figure="ipympl"`, a sibling widget above the controls) takes the focus and
 * cancels every key pressed on it, Tab included: a keyboard user could not leave it. Tab and
 * Shift+Tab pressed there are stopped on their way down, before ipympl's listener, so the
 * browser moves the focus on as anywhere else; every other key still reaches matplotlib. The
 * listener is on the document: when `render` runs, the view is not yet in its box.
 * @param {HTMLElement} el the view's element, a child of the box that holds both
 * @returns {() => void}
 */
function freeTabFromIpympl(el) {
  return listen(
    document,
    "keydown",
    (/** @type {KeyboardEvent} */ event) => {
      const target = event.target;
      if (event.key !== "Tab" || !(target instanceof Element)) return;
      const ours = el.parentElement?.contains(target); // in the box that holds this widget
      if (ours && target.classList.contains("jupyter-matplotlib-canvas-div")) event.stopPropagation();
    },
    true,
  );
}

// ----- the widget -------------------------------------------------------------------------------

/**
 * anywidget's entry point: build the controls in `el`, bind them both ways, and return the
 * cleanup that removes every listener.
 * @param {{model: Model, el: HTMLElement}} context
 */
function render({ model, el }) {
  const controls = buildControls();
  el.append(controls.root);
  const request = makeRequester(model);
  /** @type {Ui} */
  const ui = {
    dragging: null,
    mirror: () => {},
    preview: () => {},
    previewStep: () => {},
    previewLayer: () => {},
    previewLayerStep: () => {},
    previewSampleStep: () => {},
    previewThumb: () => {},
    hintThumb: () => {},
  };
  const unbind = [
    bindModel(model, controls, ui, request),
    bindInputs(model, controls, ui, request),
    bindKeys(controls, ui, request),
    freeTabFromIpympl(el),
    bindPad(controls, request),
  ];
  return () => {
    for (const off of unbind) off();
    request.dispose();
    controls.root.remove();
  };
}

export default { render };
