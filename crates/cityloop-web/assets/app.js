// cityloop pages: progressive enhancement only. Every page works without this script; it adds
// keyboard shortcuts, live previews on the operator workbench, map clicks and pan/zoom, the
// phone's position, and a form key that makes a double-submitted form create one case.
"use strict";

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  // Loads a server-rendered fragment (already escaped by the server) into a box.
  // Replaces a box's content with a fragment: only the answer to the latest request counts, and an
  // unchanged answer leaves the box (and what the user is about to click) alone.
  function loadFragment(url, box) {
    const seq = (box.loadSeq = (box.loadSeq || 0) + 1);
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((r) => (r.ok ? r.text() : ""))
      .then((html) => {
        if (!html || seq !== box.loadSeq || html === box.lastHtml) return;
        box.lastHtml = html;
        // A choice made in the old content (e.g. which case to merge into) survives the new content.
        const chosen = box.querySelector("input[type=radio]:checked");
        box.innerHTML = html;
        if (chosen && chosen.value) {
          const again = box.querySelector(`input[type=radio][name="${chosen.name}"][value="${chosen.value}"]`);
          if (again) again.checked = true;
        }
      })
      .catch(() => {});
  }

  // A delete asks first: one slip of the mouse should not remove a catalogue rule or an article.
  document.addEventListener(
    "submit",
    (e) => {
      const question = e.target.dataset && e.target.dataset.confirm;
      if (question && !window.confirm(question)) e.preventDefault();
    },
    true,
  );

  function randomKey() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // A map click as latitude and longitude, from the projection written on the <svg>.
  function mapToLatLon(svg, evt) {
    const pt = svg.createSVGPoint();
    pt.x = evt.clientX;
    pt.y = evt.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM().inverse());
    const lon = parseFloat(svg.dataset.lon0) + p.x / parseFloat(svg.dataset.kx);
    const lat = parseFloat(svg.dataset.lat0) - p.y / parseFloat(svg.dataset.ky);
    return { x: p.x, y: p.y, lat: lat, lon: lon };
  }

  // Wheel zoom, two-finger pinch zoom and drag pan by changing the viewBox; a click without a drag
  // stays a click. On a phone one finger moving up or down scrolls the page (touch-action: pan-y).
  function panZoom(svg) {
    const vb = () => svg.viewBox.baseVal;
    const full = { x: vb().x, y: vb().y, w: vb().width, h: vb().height };
    let drag = null;
    const fingers = new Map();
    let pinch = null;
    const zoomTo = (w, around, from) => {
      const width = Math.min(full.w * 1.5, Math.max(full.w / 40, w));
      const v = vb();
      v.x = around.x - ((around.x - from.x) * width) / from.w;
      v.y = around.y - ((around.y - from.y) * width) / from.w;
      v.height = (width / from.w) * from.h;
      v.width = width;
    };
    svg.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const v = vb();
        const from = { x: v.x, y: v.y, w: v.width, h: v.height };
        zoomTo(v.width * (e.deltaY > 0 ? 1.25 : 0.8), mapToLatLon(svg, e), from);
      },
      { passive: false }
    );
    svg.addEventListener("pointerdown", (e) => {
      fingers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (fingers.size === 2) {
        const [a, b] = Array.from(fingers.values());
        const v = vb();
        pinch = {
          d: Math.hypot(a.x - b.x, a.y - b.y) || 1,
          mid: mapToLatLon(svg, { clientX: (a.x + b.x) / 2, clientY: (a.y + b.y) / 2 }),
          from: { x: v.x, y: v.y, w: v.width, h: v.height },
        };
        drag = null;
        svg.dataset.dragged = "1";
        return;
      }
      drag = { x: e.clientX, y: e.clientY, vx: vb().x, vy: vb().y, moved: false };
    });
    svg.addEventListener("pointermove", (e) => {
      if (fingers.has(e.pointerId)) fingers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (pinch && fingers.size === 2) {
        const [a, b] = Array.from(fingers.values());
        zoomTo((pinch.from.w * pinch.d) / (Math.hypot(a.x - b.x, a.y - b.y) || 1), pinch.mid, pinch.from);
        return;
      }
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      if (!drag.moved) return;
      const scale = vb().width / svg.getBoundingClientRect().width;
      vb().x = drag.vx - dx * scale;
      vb().y = drag.vy - dy * scale;
    });
    const end = (e) => {
      if (drag && drag.moved) svg.dataset.dragged = "1";
      drag = null;
      fingers.delete(e.pointerId);
      if (fingers.size < 2) pinch = null;
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointerleave", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("dblclick", () => {
      vb().x = full.x;
      vb().y = full.y;
      vb().width = full.w;
      vb().height = full.h;
    });
  }

  // Optional basemap tiles (Web Mercator) under the grids, for cities with a tile server.
  function basemap(svg, template) {
    const lon0 = parseFloat(svg.dataset.lon0);
    const lat0 = parseFloat(svg.dataset.lat0);
    const kx = parseFloat(svg.dataset.kx);
    const ky = parseFloat(svg.dataset.ky);
    const v = svg.viewBox.baseVal;
    const lonAt = (x) => lon0 + x / kx;
    const latAt = (y) => lat0 - y / ky;
    const z = Math.max(1, Math.min(18, Math.round(Math.log2((360 * kx) / 256))));
    const n = Math.pow(2, z);
    const tx = (lon) => Math.floor(((lon + 180) / 360) * n);
    const ty = (lat) => {
      const r = (lat * Math.PI) / 180;
      return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
    };
    const tileLon = (x) => (x / n) * 360 - 180;
    const tileLat = (y) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / n))) * 180) / Math.PI;
    const layer = document.createElementNS("http://www.w3.org/2000/svg", "g");
    for (let x = tx(lonAt(v.x)); x <= tx(lonAt(v.x + v.width)) && x - tx(lonAt(v.x)) < 16; x++) {
      for (let y = ty(latAt(v.y)); y <= ty(latAt(v.y + v.height)) && y - ty(latAt(v.y)) < 16; y++) {
        const img = document.createElementNS("http://www.w3.org/2000/svg", "image");
        const x0 = (tileLon(x) - lon0) * kx;
        const y0 = (lat0 - tileLat(y)) * ky;
        img.setAttribute("x", x0);
        img.setAttribute("y", y0);
        img.setAttribute("width", (tileLon(x + 1) - tileLon(x)) * kx);
        img.setAttribute("height", (tileLat(y) - tileLat(y + 1)) * ky);
        img.setAttribute("href", template.replace("{z}", z).replace("{x}", x).replace("{y}", y));
        layer.appendChild(img);
      }
    }
    svg.insertBefore(layer, svg.firstChild);
    svg.classList.add("with-basemap");
  }

  function setupMaps() {
    const tiles = document.body.dataset.basemap;
    $$("svg.map").forEach((svg) => {
      panZoom(svg);
      if (tiles) basemap(svg, tiles);
    });
    $$("svg.map.picker").forEach((svg) => {
      const form = svg.closest("form");
      if (!form) return;
      svg.addEventListener("click", (e) => {
        if (svg.dataset.dragged) {
          delete svg.dataset.dragged;
          return;
        }
        const p = mapToLatLon(svg, e);
        const lat = $("[name=lat]", form);
        const lon = $("[name=lon]", form);
        if (!lat || !lon) return;
        lat.value = p.lat.toFixed(6);
        lon.value = p.lon.toFixed(6);
        const mark = $("circle.pick", svg);
        if (mark) {
          mark.setAttribute("cx", p.x);
          mark.setAttribute("cy", p.y);
        }
        lat.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
  }

  function setupGeolocation() {
    $$("button.geo").forEach((btn) => {
      btn.addEventListener("click", () => {
        const status = document.getElementById(btn.dataset.status);
        if (!navigator.geolocation) {
          if (status) status.textContent = status.dataset.fail;
          return;
        }
        navigator.geolocation.getCurrentPosition(
          (pos) => {
            document.getElementById(btn.dataset.lat).value = pos.coords.latitude.toFixed(6);
            document.getElementById(btn.dataset.lon).value = pos.coords.longitude.toFixed(6);
            if (status) status.textContent = status.dataset.ok;
          },
          () => {
            if (status) status.textContent = status.dataset.fail;
          },
          { enableHighAccuracy: true, timeout: 10000 }
        );
      });
    });
  }

  function setupWorkbench() {
    const form = $("#intake-form");
    if (!form) return;
    const history = $("#caller-history");
    const preview = $("#preview");
    const search = $("#category-search");
    const select = $("#category");
    const phone = $("#phone");
    const showHistory = () => {
      const digits = phone.value.replace(/\D/g, "");
      if (digits.length >= 3) loadFragment(form.dataset.caller + "?phone=" + encodeURIComponent(phone.value.trim()), history);
    };
    phone.addEventListener("change", showHistory);
    phone.addEventListener("input", debounce(showHistory, 400));
    const showPreview = () => {
      const q = new URLSearchParams();
      ["category", "lat", "lon", "grid", "address"].forEach((name) => {
        const el = form.elements[name];
        if (el && el.value) q.set(name, el.value);
      });
      loadFragment(form.dataset.preview + "?" + q.toString(), preview);
    };
    ["category", "lat", "lon", "grid", "address"].forEach((name) => {
      const el = form.elements[name];
      if (el) el.addEventListener("change", showPreview);
    });
    form.elements.grid.addEventListener("input", debounce(showPreview, 400));
    if (form.elements.category.value || form.elements.lat.value || form.elements.grid.value) showPreview();
    if (phone.value) showHistory();
    // Smart intake: category suggestions, similar open cases and knowledge-base answers as the text is typed.
    const typed = () => {
      const q = new URLSearchParams();
      ["title", "description", "category", "lat", "lon", "grid"].forEach((name) => {
        const el = form.elements[name];
        if (el && el.value) q.set(name, el.value);
      });
      return q.toString();
    };
    const boxes = { suggest: $("#suggestions .smart"), similar: $("#similar .smart"), knowledge: $("#knowledge .smart") };
    const showSmart = () => {
      const q = typed();
      Object.keys(boxes).forEach((name) => {
        if (boxes[name]) loadFragment("/intake/" + name + "?" + q, boxes[name]);
      });
    };
    const showSimilar = () => {
      if (boxes.similar) loadFragment("/intake/similar?" + typed(), boxes.similar);
    };
    const typedSoon = debounce(showSmart, 500);
    ["title", "description"].forEach((name) => form.elements[name].addEventListener("input", typedSoon));
    ["category", "lat", "lon", "grid"].forEach((name) => form.elements[name].addEventListener("change", showSimilar));
    if (form.elements.title.value || form.elements.description.value) showSmart();
    form.addEventListener("click", (e) => {
      const useCategory = e.target.closest(".use-category");
      if (useCategory) {
        select.value = useCategory.dataset.code;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
      const useArticle = e.target.closest(".use-article");
      if (useArticle) {
        form.elements.answer.value = useArticle.dataset.body;
        form.elements.article.value = useArticle.dataset.article;
        const details = form.querySelector("details.answer");
        if (details) details.open = true;
        form.elements.answer.focus();
      }
    });
    search.addEventListener("input", () => {
      const words = search.value.trim().toLowerCase();
      let first = null;
      Array.from(select.options).forEach((o) => {
        const hit = !words || o.value === "" || o.text.toLowerCase().includes(words);
        o.hidden = !hit;
        if (hit && o.value && !first) first = o;
      });
      if (words && first) {
        select.value = first.value;
        showPreview();
      }
    });
    search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        select.focus();
      }
    });
  }

  function setupShortcuts() {
    document.addEventListener("keydown", (e) => {
      const target = e.target;
      const typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
      if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
        const form = target && target.closest ? target.closest("form") : null;
        if (form && form.method === "post") {
          e.preventDefault();
          const primary = $("button.primary", form);
          if (primary) primary.click();
          else form.requestSubmit();
        }
        return;
      }
      if (e.altKey && !e.ctrlKey) {
        const keys = { p: "#phone", t: "#title", c: "#category-search", a: "#answer" };
        const sel = keys[e.key.toLowerCase()];
        const el = sel && $(sel);
        if (el) {
          e.preventDefault();
          if (sel === "#answer") {
            const details = el.closest("details");
            if (details) details.open = true;
          }
          el.focus();
        }
        return;
      }
      if (!typing && e.key === "/") {
        const q = $("#q") || $("#category-search");
        if (q) {
          e.preventDefault();
          q.focus();
        }
      }
    });
  }

  function setupBulk() {
    const all = $("#check-all");
    if (!all) return;
    all.addEventListener("change", () => {
      $$("input[name=case]").forEach((box) => {
        box.checked = all.checked;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    $$("input#form_key").forEach((input) => {
      if (!input.value) input.value = randomKey();
    });
    setupMaps();
    setupGeolocation();
    setupWorkbench();
    setupShortcuts();
    setupBulk();
  });
})();
