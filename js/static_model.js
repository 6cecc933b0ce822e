// @ts-check
// A static export's stand-in for anywidget's model: the widget (widget.js, inlined before this
// file by src/convscope/widget/export.py) runs unchanged, and each request it sends is answered
// here from the tables in the page, with no kernel. The figure of a state is sent as one key
// frame in the canvas path's format (frames.py): white, then the rectangles of the state's
// group (its view, layer, sample and colours at channel 0), then the state's own rectangles.
// What the file does not hold is refused as the kernel refuses: in the error banner.
import widget from "./widget.js";

const NOT_EXPORTED = "not in this export: it was written with no kernel behind it";

/**
 * @typedef {Object} ExportLayer
 * @property {string} name
 * @property {string} kind
 * @property {string} shape
 * @property {number} channels
 * @property {string} text how the layer slider names it
 * @property {string} unit
 */

/**
 * What export.py writes: the choices, the words, and where the tables are.
 * @typedef {Object} ExportMeta
 * @property {number} width
 * @property {number} height
 * @property {string[]} views
 * @property {ExportLayer[]} layers
 * @property {number[]} samples
 * @property {string[]} cmaps
 * @property {string[]} all_cmaps
 * @property {string[]} all_views
 * @property {string} norm
 * @property {string[]} all_norms
 * @property {number[] | null} labels
 * @property {number[] | null} predictions
 * @property {string[]} thumb_captions "label→prediction" of each sample, as the kernel words it
 * @property {string[]} class_names
 * @property {Record<string, string>} texts
 * @property {Record<string, string>} refusals
 * @property {Record<string, string[]>} captions
 * @property {Record<string, {texts: string[], top: number[][], peaks: (number | null)[][]}>} panels
 * @property {boolean} teaching
 * @property {number[]} thumb_shape
 * @property {number} page_size
 * @property {{view: string, layer: string, cmap: string, sample: number}} start
 * @property {number[]} group_shape
 */

/**
 * The inflated tables.
 * @typedef {Object} Tables
 * @property {Uint32Array} pieces 11 words a rectangle: x, y, w, h, rows, cols, colours,
 *   index_bytes, offset, length, and where its run lengths start
 * @property {Uint16Array} runs
 * @property {Uint8Array} data
 * @property {Int32Array} group_of
 * @property {Uint32Array} group_offsets
 * @property {Uint32Array} group_pieces
 * @property {Uint32Array} group_first
 * @property {Uint32Array} state_offsets
 * @property {Uint32Array} state_pieces
 * @property {Uint8Array} thumbs
 */

/**
 * @param {string} text base64 of zlib-deflated bytes
 * @returns {Promise<ArrayBuffer>}
 */
async function unpack(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Response(stream).arrayBuffer();
}

/**
 * @param {Record<string, string>} sections
 * @returns {Promise<Tables>}
 */
async function unpackTables(sections) {
  const names = Object.keys(sections);
  const buffers = await Promise.all(names.map((name) => unpack(sections[name])));
  /** @type {Record<string, ArrayBuffer>} */
  const raw = {};
  names.forEach((name, i) => (raw[name] = buffers[i]));
  return {
    pieces: new Uint32Array(raw.pieces),
    runs: new Uint16Array(raw.runs),
    data: new Uint8Array(raw.data),
    group_of: new Int32Array(raw.group_of),
    group_offsets: new Uint32Array(raw.group_offsets),
    group_pieces: new Uint32Array(raw.group_pieces),
    group_first: new Uint32Array(raw.group_first),
    state_offsets: new Uint32Array(raw.state_offsets),
    state_pieces: new Uint32Array(raw.state_pieces),
    thumbs: new Uint8Array(raw.thumbs),
  };
}

/**
 * What the canvas shows after a frame: its group, and the rectangles that were painted.
 * @typedef {{group: number, own: number[], all: number[]}} Shown
 */

/**
 * The rectangle of a piece: `[x, y, w, h]`.
 * @param {Tables} t
 * @param {number} piece
 */
function boxOf(t, piece) {
  return Array.from(t.pieces.subarray(11 * piece, 11 * piece + 4));
}

/**
 * Whether the box `inner` lies inside one of `boxes`.
 * @param {number[]} inner
 * @param {number[][]} boxes
 */
function covered(inner, boxes) {
  const [x, y, w, h] = inner;
  return boxes.some(([bx, by, bw, bh]) => bx <= x && by <= y && x + w <= bx + bw && y + h <= by + bh);
}

/**
 * @param {number[]} a
 * @param {number[]} b
 */
function overlaps([ax, ay, aw, ah], [bx, by, bw, bh]) {
  return ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah;
}

/**
 * The frame that takes the canvas from `shown` to a state, or the reason the file does not
 * hold that state. Every state is white where no rectangle of its own or of its group lies, so:
 * from nothing, white and then all its rectangles (a key frame); within one group (another
 * channel), white where the last state's own rectangles lay outside the group's, the group's
 * rectangles under them, then the new state's own; from another group, white where the last
 * state's rectangles will not be covered, then all of the new state's.
 * @param {ExportMeta} meta
 * @param {Tables} t
 * @param {{view: string, layer: string, sample: number, cmap: string, channel: number}} s
 * @param {number} id
 * @param {Shown | null} shown what the canvas shows, if known; null: start afresh
 * @returns {{frame: Uint8Array, shown: Shown} | string}
 */
function stateFrame(meta, t, s, id, shown) {
  const v = meta.views.indexOf(s.view);
  const l = meta.layers.findIndex((layer) => layer.name === s.layer);
  const k = meta.samples.indexOf(s.sample);
  const m = meta.cmaps.indexOf(s.cmap);
  if (v < 0) return `the ${s.view} view is ${NOT_EXPORTED}`;
  if (l < 0) return `layer ${s.layer} is ${NOT_EXPORTED}`;
  if (k < 0) return `sample ${s.sample} is ${NOT_EXPORTED}`;
  if (m < 0) return `the colours ${s.cmap} are ${NOT_EXPORTED}`;
  const [, layers, samples, cmaps] = meta.group_shape;
  const group = t.group_of[((v * layers + l) * samples + k) * cmaps + m];
  if (group < 0) return meta.refusals[`${s.view}|${s.layer}`] ?? `this view of ${s.layer} is ${NOT_EXPORTED}`;
  const state = t.group_first[group] + s.channel;
  const base = Array.from(t.group_pieces.subarray(t.group_offsets[group], t.group_offsets[group + 1]));
  const own = Array.from(t.state_pieces.subarray(t.state_offsets[state], t.state_offsets[state + 1]));
  /** @type {number[][]} white boxes, painted first */
  let whites = [];
  /** @type {number[]} */
  let ids = [...base, ...own];
  let from = 0; // a key frame
  if (shown === null) {
    whites = [[0, 0, meta.width, meta.height]];
  } else if (shown.group === group) {
    const stale = shown.own.map((piece) => boxOf(t, piece));
    const under = base.filter((piece) => stale.some((box) => overlaps(box, boxOf(t, piece))));
    whites = stale.filter((box) => !covered(box, base.map((piece) => boxOf(t, piece))));
    ids = [...under, ...own];
    from = id - 1; // applies on top of the frame before
  } else {
    const boxes = ids.map((piece) => boxOf(t, piece));
    whites = shown.all.map((piece) => boxOf(t, piece)).filter((box) => !covered(box, boxes));
  }
  const rects = whites.map(([x, y, w, h]) => ({
    x, y, w, h, rows: [h], cols: [w], colours: 1, index_bytes: 1, offset: 0, length: 5, deflate: false,
  })); // prettier-ignore
  let offset = 5; // the white palette and index, shared by every white box
  for (const piece of ids) {
    const p = t.pieces.subarray(11 * piece, 11 * piece + 11);
    const runs = t.runs.subarray(p[10], p[10] + p[4] + p[5]);
    rects.push({
      x: p[0], y: p[1], w: p[2], h: p[3],
      rows: Array.from(runs.subarray(0, p[4])), cols: Array.from(runs.subarray(p[4])),
      colours: p[6], index_bytes: p[7], offset, length: p[9], deflate: false,
    }); // prettier-ignore
    offset += p[9];
  }
  const header = new TextEncoder().encode(
    JSON.stringify({ id, base: from, width: meta.width, height: meta.height, ratio: 1, rects }),
  );
  const frame = new Uint8Array(4 + header.length + offset);
  new DataView(frame.buffer).setUint32(0, header.length, true);
  frame.set(header, 4);
  let at = 4 + header.length;
  frame.set([255, 255, 255, 255, 0], at); // white: one colour, one index
  at += 5;
  for (const piece of ids) {
    const start = t.pieces[11 * piece + 8];
    const length = t.pieces[11 * piece + 9];
    frame.set(t.data.subarray(start, start + length), at);
    at += length;
  }
  return { frame, shown: { group, own, all: [...base, ...own] } };
}

/**
 * A model with anywidget's interface whose state is the file's and whose answers are local.
 * @param {ExportMeta} meta
 * @param {Tables} t
 */
function makeStaticModel(meta, t) {
  /** @type {Map<string, Set<() => void>>} */
  const handlers = new Map();
  const thumbSize = meta.thumb_shape[0] * meta.thumb_shape[1] * meta.thumb_shape[2];
  const layerOf = (/** @type {string} */ name) => /** @type {ExportLayer} */ (meta.layers.find((l) => l.name === name));
  /** @type {Record<string, any>} */
  const state = {
    layer: meta.start.layer,
    channel: 0,
    sample: meta.start.sample,
    cmap: meta.start.cmap,
    norm: meta.norm,
    view: meta.start.view,
    target_class: null,
    probe: null,
    compare: null,
    compare_mode: "side",
    page: 0,
    epoch: null,
    filter_true: -1,
    filter_predicted: -1,
    misclassified_only: false,
    _layer_options: meta.layers.map(({ name, kind, shape, channels, text }) => ({ name, kind, shape, channels, text })),
    _channel_count: 1,
    _unit_name: "channel",
    _sample_text: "",
    _pad: [],
    _cmap_options: meta.all_cmaps,
    _norm_options: meta.all_norms,
    _view_options: meta.all_views,
    _class_names: meta.class_names,
    _has_labels: meta.labels !== null,
    _has_predictions: meta.predictions !== null,
    _figure_mode: "png",
    _figure_frame: new DataView(new ArrayBuffer(0)),
    _thumbs: new DataView(new ArrayBuffer(0)),
    _thumb_meta: [],
    _thumb_shape: meta.thumb_shape,
    _page_count: 1,
    _filtered_count: meta.samples.length,
    _confusion: confusion(meta),
    _epochs: [],
    _history: {},
    _training: {},
    _teaching: meta.teaching,
    _captions: [],
    _download: new DataView(new ArrayBuffer(0)),
    _download_name: "",
    _panel_open: false,
    _panel_text: "",
    _panel_thumbs: new DataView(new ArrayBuffer(0)),
    _panel_meta: [],
    _sort: "index",
    _sort_options: ["index"],
    _compare_text: "",
    _error: "",
    _status: "",
    _ack: 0,
  };
  let frameId = 0;
  /** @type {Shown | null} */
  let shownFrame = null;
  let filtered = meta.samples.slice();
  /** @type {Set<string>} */
  const changed = new Set();
  /** @type {any[]} */
  let inbox = [];

  /** @param {string} name @param {any} value */
  const set = (name, value) => {
    const same = typeof value === "object" && value !== null ? false : state[name] === value;
    if (same) return;
    state[name] = value;
    changed.add(name);
  };
  const emit = () => {
    const names = [...changed];
    changed.clear();
    for (const name of names) for (const handler of [...(handlers.get(`change:${name}`) ?? [])]) handler();
  };
  const position = (/** @type {number} */ sample) => meta.samples.indexOf(sample);
  const classOf = (/** @type {number[] | null} */ values, /** @type {number} */ sample) =>
    values === null ? -1 : values[position(sample)];

  /** @param {number} page */
  function showPage(page) {
    const count = Math.max(1, Math.ceil(filtered.length / meta.page_size));
    const shown = Math.min(Math.max(page, 0), count - 1);
    const chosen = filtered.slice(shown * meta.page_size, (shown + 1) * meta.page_size);
    const bytes = new Uint8Array(chosen.length * thumbSize);
    chosen.forEach((sample, i) => {
      const at = position(sample) * thumbSize;
      bytes.set(t.thumbs.subarray(at, at + thumbSize), i * thumbSize);
    });
    set("page", shown);
    set("_page_count", count);
    set("_filtered_count", filtered.length);
    set("_thumbs", new DataView(bytes.buffer));
    set(
      "_thumb_meta",
      chosen.map((index) => ({
        index,
        label: classOf(meta.labels, index),
        predicted: classOf(meta.predictions, index),
        caption: meta.thumb_captions[position(index)],
      })),
    );
  }

  // The channel panel: the kernel's words and strongest samples; those in the file show.
  function showPanel() {
    if (!state._panel_open) return;
    const panel = meta.panels[state.layer];
    if (!panel) {
      set("_panel_text", `the channel panel of ${state.layer} is ${NOT_EXPORTED}`);
      set("_panel_meta", []);
      set("_panel_thumbs", new DataView(new ArrayBuffer(0)));
      return;
    }
    const top = panel.top[state.channel];
    const held = top.map((index, i) => ({ index, peak: panel.peaks[state.channel][i] ?? -Infinity }));
    const shown = held.filter(({ index }) => position(index) >= 0);
    const bytes = new Uint8Array(shown.length * thumbSize);
    shown.forEach(({ index }, i) => {
      const at = position(index) * thumbSize;
      bytes.set(t.thumbs.subarray(at, at + thumbSize), i * thumbSize);
    });
    const note = `  (${shown.length} of them in this file${shown.length ? "" : "; export them to see them"})`;
    set("_panel_text", panel.texts[state.channel] + note);
    set("_panel_meta", shown);
    set("_panel_thumbs", new DataView(bytes.buffer));
  }

  /**
   * @param {{view: string, layer: string, sample: number, cmap: string, channel: number}} next
   * @param {boolean} [fresh] a whole frame from white: the page asked for one
   */
  function show(next, fresh = false) {
    const info = layerOf(next.layer);
    if (info) next.channel = Math.min(Math.max(0, next.channel), info.channels - 1);
    const made = stateFrame(meta, t, next, frameId + 1, fresh ? null : shownFrame);
    if (typeof made === "string") throw new Error(made);
    const frame = made.frame;
    shownFrame = made.shown;
    frameId += 1;
    const samplePage = Math.floor(Math.max(0, filtered.indexOf(next.sample)) / meta.page_size);
    const movedSample = next.sample !== state.sample;
    for (const [name, value] of Object.entries(next)) set(name, value);
    set("_channel_count", info.channels);
    set("_unit_name", info.unit);
    set("_sample_text", meta.texts[String(next.sample)] ?? `sample ${next.sample}`);
    set("_captions", meta.captions[`${next.layer}|${next.channel}`] ?? []);
    set("_figure_frame", new DataView(frame.buffer));
    if (movedSample && filtered.includes(next.sample) && samplePage !== state.page) showPage(samplePage);
    showPanel();
  }

  const current = () => ({
    view: state.view,
    layer: state.layer,
    sample: state.sample,
    cmap: state.cmap,
    channel: state.channel,
  });

  /** @param {number} delta */
  function stepped(delta) {
    const order = filtered.length ? filtered : meta.samples;
    const at = order.indexOf(state.sample);
    if (at >= 0) return order[(((at + delta) % order.length) + order.length) % order.length];
    const after = order.findIndex((sample) => sample > state.sample);
    if (delta > 0) return order[after < 0 ? 0 : after];
    return order[(after < 0 ? order.length : after) - 1 + (after === 0 ? order.length : 0)];
  }

  /** @param {{true: number, predicted: number, misclassified: boolean}} f */
  function applyFilter(f) {
    filtered = meta.samples.filter(
      (sample) =>
        (f.true < 0 || classOf(meta.labels, sample) === f.true) &&
        (f.predicted < 0 || classOf(meta.predictions, sample) === f.predicted) &&
        (!f.misclassified || classOf(meta.labels, sample) !== classOf(meta.predictions, sample)),
    );
    set("filter_true", f.true);
    set("filter_predicted", f.predicted);
    set("misclassified_only", f.misclassified);
    if (filtered.length && !filtered.includes(state.sample)) show({ ...current(), sample: filtered[0] });
    const at = filtered.indexOf(state.sample);
    showPage(at < 0 ? 0 : Math.floor(at / meta.page_size));
  }

  /** @param {Record<string, any>} batch one request of each kind, merged */
  function apply(batch) {
    if (batch.filter) applyFilter(batch.filter);
    const view = batch.view ?? {};
    for (const key of ["norm", "target_class", "compare", "compare_mode"]) {
      if (key in view && !(key === "compare" && view.compare < 0) && view[key] !== state[key === "target_class" ? key : key]) {
        if (!(key === "target_class" && view[key] < 0)) throw new Error(`${key.replace("_", " ")}: ${NOT_EXPORTED}`);
      }
    }
    const next = current();
    for (const key of /** @type {const} */ (["view", "layer", "sample", "cmap", "channel"])) {
      if (key in view) /** @type {any} */ (next)[key] = view[key];
    }
    if (batch.step) next.sample = stepped(batch.step.delta);
    if (batch.move) {
      const names = meta.layers.map((l) => l.name);
      const at = names.indexOf(next.layer);
      if (batch.move.layers && at >= 0) next.layer = names[Math.min(Math.max(at + batch.move.layers, 0), names.length - 1)];
      if (batch.move.channels) next.channel = next.channel + batch.move.channels;
    }
    const info = layerOf(next.layer);
    if (info) next.channel = Math.min(Math.max(next.channel, 0), info.channels - 1);
    if (Object.entries(next).some(([key, value]) => state[key] !== value) || batch.frame) show(next, Boolean(batch.frame));
    if (batch.page) showPage(batch.page.page);
    if (batch.panel) {
      const held = Object.keys(meta.panels).length > 0;
      set("_panel_open", held && batch.panel.open);
      changed.add("_panel_open"); // closes the panel again when the file has none
      if (held) showPanel();
      else if (batch.panel.open) throw new Error(`the channel panel is ${NOT_EXPORTED}`);
    }
    for (const kind of ["sort", "epoch", "gif", "draw", "training"]) {
      if (batch[kind]) throw new Error(`${kind}: ${NOT_EXPORTED}`);
    }
  }

  function flush() {
    const requests = inbox;
    inbox = [];
    /** @type {Record<string, any>} */
    const batch = {};
    let seq = state._ack;
    for (const { type, seq: number, ...fields } of requests) {
      seq = Math.max(seq, number);
      if (type === "view") batch.view = { ...(batch.view ?? {}), ...fields };
      else if (type === "step") batch.step = { delta: (batch.step?.delta ?? 0) + fields.delta };
      else if (type === "move") {
        batch.move = {
          channels: (batch.move?.channels ?? 0) + (fields.channels ?? 0),
          layers: (batch.move?.layers ?? 0) + (fields.layers ?? 0),
        };
      } else batch[type] = fields;
    }
    try {
      apply(batch);
      set("_error", "");
    } catch (error) {
      set("_error", error instanceof Error ? error.message : String(error));
      changed.add("_error");
    }
    set("_ack", seq);
    emit();
  }

  const model = {
    /** @param {string} name */
    get: (name) => state[name],
    /** @param {string} event @param {() => void} handler */
    on(event, handler) {
      if (!handlers.has(event)) handlers.set(event, new Set());
      /** @type {Set<() => void>} */ (handlers.get(event)).add(handler);
    },
    /** @param {string} event @param {() => void} handler */
    off(event, handler) {
      handlers.get(event)?.delete(handler);
    },
    /** @param {any} content */
    send(content) {
      if (inbox.length === 0) queueMicrotask(flush);
      inbox.push(content);
    },
  };
  show(current());
  showPage(0);
  changed.clear();
  return model;
}

/**
 * Counts of (true, predicted) pairs among the exported samples, as the kernel's matrix.
 * @param {ExportMeta} meta
 * @returns {number[][]}
 */
function confusion(meta) {
  const { labels, predictions } = meta;
  if (labels === null || predictions === null) return [];
  const n = meta.class_names.length;
  const counts = Array.from({ length: n }, () => new Array(n).fill(0));
  labels.forEach((label, i) => {
    if (label >= 0 && label < n && predictions[i] >= 0 && predictions[i] < n) counts[label][predictions[i]] += 1;
  });
  return counts;
}

/**
 * Disable what the file holds nothing for, and say why in its tooltip.
 * @param {HTMLElement} root
 * @param {ExportMeta} meta
 */
function markStatic(root, meta) {
  root.classList.add("convscope-static");
  /** @param {string} selector @param {string} why */
  const off = (selector, why) => {
    for (const node of root.querySelectorAll(selector)) {
      node.setAttribute("disabled", "");
      node.setAttribute("title", `${why}: ${NOT_EXPORTED}`);
    }
  };
  off(".convscope-sort", "other orders");
  off(".convscope-gif", "saving a GIF");
  off(".convscope-compare, .convscope-compare-pick, .convscope-compare-mode, .convscope-compare-clear", "comparing two samples");
  off(".convscope-target-class", "Grad-CAM of another class");
  /** @param {string} selector @param {string[]} kept @param {string} what */
  const options = (selector, kept, what) => {
    for (const node of /** @type {NodeListOf<HTMLOptionElement>} */ (root.querySelectorAll(`${selector} option`))) {
      if (kept.includes(node.value)) continue;
      node.disabled = true;
      node.title = `${what} ${node.value}: ${NOT_EXPORTED}`;
    }
  };
  options(".convscope-view", meta.views, "the view");
  options(".convscope-cmap", meta.cmaps, "the colours");
  options(".convscope-norm", [meta.norm], "the scale");
  const panel = root.querySelector(".convscope-panel summary");
  if (panel && Object.keys(meta.panels).length === 0) panel.setAttribute("title", `the channel panel: ${NOT_EXPORTED}`);
  root.dataset.ready = "true";
}

async function start() {
  const holder = /** @type {HTMLElement} */ (document.getElementById("convscope-data"));
  const { meta, sections } = JSON.parse(holder.textContent ?? "{}");
  const tables = await unpackTables(sections);
  const model = makeStaticModel(meta, tables);
  const el = /** @type {HTMLElement} */ (document.getElementById("convscope-root"));
  widget.render({ model: /** @type {any} */ (model), el });
  markStatic(/** @type {HTMLElement} */ (el.querySelector(".convscope")), meta);
}

start().catch((error) => {
  document.body.append(`convscope: this export could not open: ${error}`);
  console.error(error);
});
