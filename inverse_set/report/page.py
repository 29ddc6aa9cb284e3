"""A report a researcher reads: one self-contained HTML page per run (or per atlas, a section per row).

Each section shows the band and neuron, the run's figures, samples spread over the
run with their activations, the facets (medoid and size; members on click), the
real images in the band beside the samples, and the data's activation histogram
with the band marked and the samples' activations beside it. Images are inline
PNGs (data URIs), the histogram inline SVG; there is no script and nothing is
fetched, so the file reads offline and can be mailed.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from inverse_set.report.dataset_examples import DatasetExamples, activations_on, dataset_examples
from inverse_set.report.facets import Facets, facets
from inverse_set.report.viz import band_text, decimals, heat, is_picture, overlay, spread, to_uint8

MAX_SAMPLES, MAX_EXAMPLES, MAX_MEMBERS = 40, 20, 40  # images shown per section: samples, real examples, per facet
MAX_NEAR = 10  # samples shown with their maps in a section near an image


@dataclass(frozen=True)
class Section:
    """One run on the page: a title, its result (or the error it ended with) and what was found beside it.

    Attributes:
      title: e.g. ``"Bag, p50–p95"``.
      result: an :class:`~inverse_set.results.InverseSetResult`, or the exception the run raised (or its text).
      facets: ``(space name, Facets)`` pairs, e.g. the encoder's and the judge's.
      examples: the dataset's activations and which images lie in the band; ``example_images`` the dataset.
    """

    title: str
    result: object
    facets: tuple = ()
    examples: DatasetExamples | None = None
    example_images: np.ndarray | None = field(default=None, repr=False)
    near: NearView | None = None


@dataclass(frozen=True)
class NearView:
    """What a section of a run near an image shows beside its samples: x0's own activations (p,), and where the
    neuron looks: the attribution map of x0 and of the shown samples (1 + len(shown), …), and which samples."""

    activations: np.ndarray
    maps: np.ndarray
    shown: np.ndarray


def near_view(result, neuron, models) -> NearView | None:
    """The :class:`NearView` of a result near an image (None for any other run, or without models)."""
    if getattr(result, "near", None) is None or models is None or neuron is None:
        return None
    from inverse_set.attribution import attribution_maps

    first = neuron[0] if isinstance(neuron, list) else neuron
    shown = spread(len(result), MAX_NEAR)
    acts = activations_on(neuron, result.near.image[None], models=models)[0][0]
    maps = attribution_maps(first, np.concatenate([result.near.image[None], result.images[shown]]), models=models)
    return NearView(acts, maps, shown)


def build_section(title: str, result, *, models=None, neuron=None, dataset=None, examples=None,
                  facet_spaces: dict[str, Callable | None] | None = None, k: int | None = None) -> Section:
    """A :class:`Section` with facets (``{name: features fn, None for the encoder}``; default the encoder) and,
    given a dataset (N, …), its real examples in the band: ``examples`` (a :class:`DatasetExamples` of that
    dataset), or found here from the neurons."""
    failed = isinstance(result, (Exception, str))
    if examples is None and dataset is not None and neuron is not None and not failed:
        examples = dataset_examples(neuron, result.z1, result.z2, dataset, models=models)
    images = None if dataset is None else np.asarray(dataset)
    if failed or len(result) < 2:
        return Section(title, result, (), examples, images)
    spaces = {"the encoder E(x)": None} if facet_spaces is None else facet_spaces
    found = tuple((name, facets(result, k, models=models, features=fn)) for name, fn in spaces.items())
    return Section(title, result, found, examples, images, near_view(result, neuron, models))


def report_html(sections: Sequence[Section], *, title: str, figures: dict | None = None) -> str:
    """The page, as a string: a header with ``figures`` (command, machine, …), then one block per section."""
    head = _table(figures or {})
    body = "\n".join(_section(s, i) for i, s in enumerate(sections))
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>{head}\n{body}\n</body></html>\n")


def write_report(path, sections: Sequence[Section], *, title: str, figures: dict | None = None) -> Path:
    """Write :func:`report_html` to ``path`` (e.g. ``out/sample/report.html``); returns the path."""
    path = Path(path)
    path.write_text(report_html(sections, title=title, figures=figures), encoding="utf-8")
    return path


CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1200px; }
h2 { border-top: 1px solid #bbb; padding-top: .6em; }
table.figures td { padding: 1px 10px 1px 0; vertical-align: top; } table.figures td:first-child { color: #666; }
.tiles { display: flex; flex-wrap: wrap; gap: 6px; }
figure { margin: 0; text-align: center; font-size: 11px; color: #444; }
img.s { width: 84px; height: 84px; image-rendering: pixelated; border: 1px solid #ddd; display: block; }
.facet { display: inline-block; vertical-align: top; margin: 0 12px 12px 0; }
details summary { cursor: pointer; color: #036; }
.error { color: #a00; white-space: pre-wrap; }
.note { color: #666; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _png(image: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _tile(image, caption: str, hover: str = "") -> str:
    return (f"<figure><img class='s' src='{_png(image)}' alt='{_e(hover or caption)}' title='{_e(hover or caption)}'>"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _values(acts, d: int) -> str:
    return ", ".join(f"{a:.{d}f}" for a in np.atleast_1d(acts))


def _table(rows: dict) -> str:
    cells = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows.items() if v is not None)
    return f"<table class='figures'>{cells}</table>" if cells else ""


def run_figures(result) -> dict:
    """The run's figures, in words: method, n, steps, time, evaluations, the band's prior mass."""
    s = result.stats
    mass = None if s.band_mass is None else \
        f"{s.band_mass[0]:.3g} (90% interval {s.band_mass[1]:.3g}–{s.band_mass[2]:.3g})"
    return {"method": s.method, "samples": f"{len(result)} of {result.n_requested} asked",
            "seed steps": "none needed" if s.seed_status == "skipped" else f"{s.seed_steps} ({s.seed_status})",
            "walk steps": f"{s.walker_steps} ({s.walk_status})",
            "time": f"{s.run_time_s:.1f} s run + {s.compile_time_s:.1f} s compilation",
            "evaluations": f"{s.gradient_evaluations} forward+backward, {s.forward_evaluations} forward-only",
            ("the band's share of the localised prior N(z₀, σ² I)" if getattr(result, "near", None) is not None
             else "the band's share of the prior"): mass,
            "population started from": s.population_start,
            "worth about (independent draws)": None if s.effective_sample_size is None else
            f"{s.effective_sample_size:.0f}"}


def _section(s: Section, i: int) -> str:
    res = s.result
    out = [f"<section id='s{i}'><h2>{_e(s.title)}</h2>"]
    if isinstance(res, (Exception, str)):
        why = res if isinstance(res, str) else f"{type(res).__name__}: {res}"
        return out[0] + f"<p class='error'>No samples: {_e(why)}</p></section>"
    d = decimals(res.z1, res.z2)
    out.append(f"<p>{_e(band_text(res.z1, res.z2, res.constraints))}</p>" + _table(run_figures(res)))
    pictures = len(res) > 0 and is_picture(res.images.shape[1:])
    if not pictures:
        out.append("<p class='note'>The generator's outputs are not images: no pictures.</p>")
    else:
        pick = spread(len(res), MAX_SAMPLES)
        out.append(f"<h3>Samples</h3><p class='note'>{len(pick)} of {len(res)}, spread over the run, with their "
                   "activations</p><div class='tiles'>"
                   + "".join(_tile(res.images[j], _values(res.activations[j], d), f"sample {j}") for j in pick)
                   + "</div>")
    if s.near is not None and pictures:
        out.append(_near(res, s.near, d))
    for space, found in s.facets:
        out.append(_facets(res, found, space, d, pictures))
    if s.examples is not None:
        out.append(_examples(s.examples, s.example_images, d, pictures))
        out.append("<h3>Activations</h3>" + "".join(
            _histogram(s.examples.activations[:, c], res.activations[:, c], res.z1[c], res.z2[c], name,
                       mark=None if s.near is None else float(s.near.activations[c]))
            for c, name in enumerate(res.constraints)))
    return "\n".join(out) + "</section>"


def _near(res, view: NearView, d: int) -> str:
    """The image the run started near, its reconstruction, and where the neuron looks in it and in the samples."""
    from inverse_set.attribution import change_map

    info = res.near
    axis = -1 if info.image.ndim == 3 else None  # (H, W, C): summed over channels
    change = change_map(info.image[None], info.reconstruction, channel_axis=axis)[0]
    head = (_tile(info.image, "x0, " + _values(view.activations, d))
            + _tile(info.reconstruction, f"G(z₀), rms {info.reconstruction_error:.3f}")
            + _tile(overlay(info.image, view.maps[0]), "where it looks in x0")
            + _tile(heat(change), "x0 − G(z₀)"))
    samples = "".join(_tile(res.images[j], f"{_values(res.activations[j], d)}; rms {info.pixel_distance[j]:.3f}",
                            f"sample {j}") for j in view.shown)
    maps = "".join(_tile(overlay(res.images[j], m), "where it looks") for j, m in zip(view.shown, view.maps[1:]))
    changes = change_map(res.images[view.shown], info.reconstruction, channel_axis=axis)
    changed = "".join(_tile(heat(c), "what changed") for c in changes)
    return (f"<h3>Near an image</h3><p class='note'>The samples come from the prior localised at the latent z₀ "
            f"whose image G(z₀) is nearest x0, N(z₀, σ² I) with σ = {info.scale:g}, restricted to the band. Under each "
            "sample: its activation and its root-mean-square pixel distance to G(z₀) (median "
            f"{np.median(info.pixel_distance):.3f}). Maps: gradient × input of the activation smoothed over small "
            "jitters, red where a pixel pushes the activation up, blue down; and |x − G(z₀)|, what changed.</p>"
            f"<div class='tiles'>{head}</div><div class='tiles'>{samples}</div><div class='tiles'>{maps}</div>"
            f"<div class='tiles'>{changed}</div>")


def _facets(res, found: Facets, space: str, d: int, pictures: bool) -> str:
    how = {"given": "k given", "silhouette": "k with the highest mean silhouette",
           "no structure": "one facet: no k reached a mean silhouette of 0.25"}[found.chosen_by]
    scores = ", ".join(f"k={k}: {v:.2f}" for k, v in found.silhouette.items())
    out = [(f"<h3>Facets in {_e(space)}</h3><p class='note'>{len(found)} facet(s) by k-means ({_e(how)}"
            f"{'; silhouettes ' + _e(scores) if scores else ''}); the medoid of each, its size, its members on "
            "click</p>")]
    for j, facet in enumerate(found):
        share = f"{facet.size} of {len(res)} ({facet.size / len(res):.0%})"
        if not pictures:
            out.append(f"<p>facet {j + 1}: {share}</p>")
            continue
        members = facet.members[:MAX_MEMBERS]
        more = "" if facet.size <= MAX_MEMBERS else f" (the {MAX_MEMBERS} nearest the medoid)"
        out.append(f"<div class='facet'>{_tile(res.images[facet.medoid], f'facet {j + 1}: {share}')}"
                   f"<details><summary>members{more}</summary><div class='tiles'>"
                   + "".join(_tile(res.images[m], _values(res.activations[m], d), f"sample {m}") for m in members)
                   + "</div></details></div>")
    return "".join(out)


def _examples(ex: DatasetExamples, images, d: int, pictures: bool) -> str:
    idx = ex.indices
    total = ex.activations.shape[0]
    text = f"{idx.size} of the {total} dataset images ({ex.share:.2%}) lie in the band"
    if idx.size == 0:
        return f"<h3>Real examples</h3><p>{_e(text)}: none to show (beyond the data).</p>"
    shown = idx[spread(idx.size, MAX_EXAMPLES)]
    tiles = "" if not pictures or images is None else "<div class='tiles'>" + "".join(
        _tile(images[j], _values(ex.activations[j], d), f"dataset image {j}") for j in shown) + "</div>"
    return (f"<h3>Real examples</h3><p class='note'>{_e(text)}; {len(shown)} of them, spread over the band from "
            f"its lowest activation to its highest:</p>{tiles}")


def _histogram(data: np.ndarray, samples: np.ndarray, z1: float, z2: float, name: str, bins: int = 40,
               mark: float | None = None) -> str:
    """Inline SVG: the data's activation histogram (grey), the band (shaded), the samples' (blue), each as a density;
    ``mark``, the image a run started near, as a red line."""
    lo = float(min(data.min(), samples.min() if samples.size else z1, z1, z1 if mark is None else mark))
    hi = float(max(data.max(), samples.max() if samples.size else z2, z2, z2 if mark is None else mark))
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    w, h, pad = 600, 150, 24

    def x(v):
        return pad + (float(v) - lo) / (hi - lo) * (w - 2 * pad)

    def bars(values, colour, style):
        counts = np.histogram(values, edges)[0].astype(float)
        counts = counts / counts.max() if counts.max() > 0 else counts
        return "".join(f"<rect x='{x(a):.1f}' y='{h - pad - c * (h - 2 * pad):.1f}' width='{x(b) - x(a):.1f}' "
                       f"height='{c * (h - 2 * pad):.1f}' {style}='{colour}'/>"
                       for a, b, c in zip(edges[:-1], edges[1:], counts) if c > 0)

    band = f"<rect x='{x(z1):.1f}' y='{pad / 2}' width='{max(x(z2) - x(z1), 1):.1f}' height='{h - 1.5 * pad}' " \
           "fill='#fde0b0'/>"
    ticks = "".join(f"<text x='{x(v):.1f}' y='{h - 6}' font-size='10' text-anchor='middle'>{v:.3g}</text>"
                    for v in (lo, z1, z2, hi))
    caption = (f"{name}: the {data.size} dataset images (grey) and the {samples.size} samples (blue outline), "
               "each scaled to its own highest bar; the band shaded"
               + ("" if mark is None else f"; x0, the image the run started near, at {mark:.3g} (red)"))
    if mark is not None:
        ticks += (f"<line x1='{x(mark):.1f}' x2='{x(mark):.1f}' y1='{pad / 2}' y2='{h - pad}' stroke='#c00' "
                  "stroke-width='2'/>")
    return (f"<figure><svg width='{w}' height='{h}' role='img'>"
            f"<title>{_e(caption)}</title>{band}{bars(data, '#999', 'fill')}"
            f"<g fill='none' stroke-width='1.5'>{bars(samples, '#1f5fbf', 'stroke')}</g>"
            f"<line x1='{pad}' x2='{w - pad}' y1='{h - pad}' y2='{h - pad}' stroke='#333'/>{ticks}</svg>"
            f"<figcaption>{_e(caption)}</figcaption></figure>")
