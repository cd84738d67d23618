"""One adapter per Snakemake rule, named after the rule.

Every rule's ``script:`` is ``workflow/scripts/run_stage.py``, which calls :func:`run_rule`; that
finds the adapter named after the job's rule in this module. An adapter only unpacks the job
(input, output, params, wildcards, threads) into one call of a stage in the package; the logic
lives there, beside the algorithm it runs.

Each adapter imports its stage when it runs, never at module level: rules run in different conda
environments (``envs/*.yaml``), and the viewer's environment, for one, has no lapjv,
scikit-learn or openTSNE.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path


# The many small per-city jobs: each runs in a fork of a warm process that has imported what they
# need (roomgrid.core.warm), instead of paying ~1-2 s of start-up 400 times at 400 cities.
WARM_RULES = frozenset({"make_demo_city", "scan_city", "embed_city"})


def _openvino_cache() -> str:
    """Where OpenVINO keeps the network compiled for this machine between jobs: Snakemake-run
    state of the work directory, as the fingerprints are, a folder per host, since a compiled
    model fits only the CPU it was compiled for (cluster nodes may differ)."""
    import socket

    return f".snakemake/roomgrid/openvino/{socket.gethostname()}"


def run_rule(job) -> None:
    """Run the adapter named after ``job.rule`` with the job's log file receiving its logging;
    a per-city rule's job in the warm process when there is one to be had."""
    if job.rule in WARM_RULES:
        import pickle

        from .core import warm

        if warm.enabled():
            try:
                warm.run(pickle.dumps(job), f"{__name__}:run_here")
                return
            except warm.WarmUnavailable as why:
                print(f"roomgrid: running the job in its own process ({why})", file=sys.stderr)
            except warm.JobFailed:
                raise SystemExit(1) from None  # the job said why on our stderr and in its log
    run_here(job)


def run_here(job) -> None:
    """Run the job's adapter in this process."""
    from .core.runlog import logged

    adapter = adapter_for(job.rule)
    with logged(job.log[0] if job.log else None):
        adapter(job)


def adapter_for(rule: str):
    """The function of this module named ``rule``: every rule has one, and nothing else is one."""
    adapter = getattr(sys.modules[__name__], rule, None)
    if rule.startswith("_") or rule in _NOT_ADAPTERS or not inspect.isfunction(adapter):
        raise LookupError(f"no stage adapter for rule {rule!r}: add a function {rule}(job) "
                          "to roomgrid.stages")
    return adapter


def by_city(job, name: str) -> dict[str, str]:
    """The job's per-city input ``name`` as ``{city: file}``, each file matched to its city by its
    folder (``results/cities/<city>/...``), never by its position in the list."""
    files = [str(f) for f in job.input[name]]
    found = {Path(f).parent.name: f for f in files}
    cities = list(job.params.cities)
    if len(found) != len(files) or set(found) != set(cities):
        raise ValueError(f"rule {job.rule}: input {name!r} has no one file per city of "
                         f"{cities}: {files}")
    return {city: found[city] for city in cities}


# --- sources ---------------------------------------------------------------------------------

def make_demo_city(job) -> None:
    from .sources.demo import make_demo_city as generate

    generate(job.wildcards.city, job.output[0], **job.params)


def scrape_city(job) -> None:
    from .sources.scrape import scrape_city as scrape

    scrape(job.wildcards.city, Path(job.output[0]).parent, job.params.settings)


# --- per-city scan and selection -------------------------------------------------------------

def scan_city(job) -> None:
    """Index the city's folder into its photo table, then scan the photos the table lists."""
    from .scan.city import ScanSettings, scan_city as scan
    from .sources.folder import run_index_city

    p, o = job.params, job.output
    run_index_city(job.wildcards.city, p.city_dir, job.input.metadata or None, o.photos)
    settings = ScanSettings(stack_size=p.stack_size, sigmas=p.sigmas, colour=p.colour,
                            thumb_px=p.thumb_px, draft=p.draft, max_pixels=p.max_pixels)
    if "features" not in o.keys():
        scan(o.photos, o.scan, o.stacks, o.thumbs, settings)
        return
    # features.kind cnn: the same decode also feeds the network.
    from .features.scan_pass import scan_and_embed

    scan_and_embed(o.photos, o.scan, o.stacks, o.thumbs, o.features, job.input.model,
                   settings, _embed_settings(job))


def select_photos(job) -> None:
    from .selection.select import run_select_photos

    p, i = job.params, job.input
    run_select_photos(
        i.photos, i.scans, by_city(job, "stacks"), job.output.photos, job.output.duplicates,
        job.output.summary, keep_bins=p.keep, graphic_below=p.graphic_below,
        photo_from=p.photo_from, max_distance=p.max_distance,
        max_pixel_difference=p.max_pixel_difference, exclusions=i.exclusions or None,
        clusters=i.clusters or None, predictions=i.predictions or None,
        cull_drop=p.cull_drop, cull_threshold=p.cull_threshold,
        cull_metrics=i.cull_metrics or None, base_dir=i.get("base") or None)


# --- what photos show: CNN features, clusters, culling -----------------------------------------

def export_cnn(job) -> None:
    from .features.cnn import export_onnx_kept

    p = job.params
    export_onnx_kept(job.output[0], model=p.model, input_px=p.input_px, weights=p.weights,
                     precision=p.precision)


def embed_city(job) -> None:
    from .features.cnn import embed_city as embed

    p = job.params
    settings = _embed_settings(job, draft=p.draft, max_pixels=p.max_pixels, min_side=p.min_side)
    embed(job.input.photos, job.input.scan, job.input.model, job.output[0], settings)


def _embed_settings(job, **settings):
    """How a job runs the network. The runtime, device and batch size come from the config, not
    from params: they change how fast the vectors come, not what they say, so changing them
    re-runs nothing (above all not the scan, whose pass embeds the photos)."""
    from .features.cnn import EmbedSettings

    cnn = job.config["features"]["cnn"]
    return EmbedSettings(threads=job.threads, device=cnn["device"], batch_size=cnn["batch_size"],
                         runtime=cnn["runtime"], cache_dir=_openvino_cache(), **settings)


def cluster_photos(job) -> None:
    from .features.clusters import run_clusters

    p = job.params
    run_clusters(by_city(job, "scans"), by_city(job, "features"), job.output.table,
                 job.output.facts, dataset=p.dataset, k=p.k, seed=p.seed,
                 base_dir=job.input.get("base") or None)


def embed_labels(job) -> None:
    from .features.labels import run_embed_labels

    p = job.params
    # Runtime and device are not params: they change how fast the vectors come, not what they say.
    cnn = job.config["features"]["cnn"]
    run_embed_labels(p.labels_dir, job.output.features, job.output.files, kind=p.kind,
                     model_onnx=job.input.model or None, threads=job.threads,
                     device=cnn["device"], runtime=cnn["runtime"], cache_dir=_openvino_cache(),
                     stack=p.stack, max_pixels=p.max_pixels)


def predict_types(job) -> None:
    from .features.cull import run_predict_types

    p, i = job.params, job.input
    run_predict_types(by_city(job, "scans"), by_city(job, "features"), job.output.predictions,
                      job.output.metrics, dataset=p.dataset, labels_csv=i.labels_csv or None,
                      labels_h5=i.labels_h5 or None, clusters_tsv=i.clusters or None,
                      cluster_labels=p.cluster_labels, cluster_examples=p.cluster_examples,
                      recall=p.recall)


# --- embedding and layout ----------------------------------------------------------------------

def reduce_pca(job) -> None:
    from .layout.pca import run_pca

    p = job.params
    run_pca(job.input.photos, by_city(job, "features"), job.output[0],
            n_components=p.n_components, batch_size=p.batch_size, method=p.method,
            dataset=p.dataset)


def embed_tsne(job) -> None:
    from .layout.tsne import run_tsne

    run_tsne(job.input[0], job.output.points, job.output.facts, n_jobs=job.threads,
             model_pkl=job.output.model, **job.params)


def find_neighbours(job) -> None:
    from .layout.tsne import run_neighbours

    run_neighbours(job.input[0], job.output[0], k=job.params.k, seed=job.params.seed,
                   n_jobs=job.threads)


def assign_grid(job) -> None:
    from .layout.grid import run_grid

    run_grid(job.input.points, job.input.photos, job.output.cells, job.output.facts,
             n_jobs=job.threads, **job.params)


def arrange_photos(job) -> None:
    from .layout.arrange import run_arrangement

    p = job.params
    run_arrangement(job.input.points, job.input.photos, job.output.cells, job.output.facts,
                    name=job.wildcards.arrangement, **p.spec, aspect=p.aspect, method=p.method,
                    exact_max=p.exact_max, block_size=p.block_size, n_jobs=job.threads)


def save_base(job) -> None:
    from .layout.base import run_save_base

    i = job.input
    run_save_base({"pca.h5": i.pca, "tsne.pkl": i.model, "tsne.tsv": i.points,
                   "tsne.json": i.tsne_facts, "grid.tsv": i.cells, "grid.json": i.facts,
                   "tiles": i.tiles, "clusters.tsv": i.get("clusters"),
                   "clusters.json": i.get("cluster_facts")}, job.output[0])


# --- growing a built map (layout.mode: extend) -------------------------------------------------

def project_pca(job) -> None:
    from .layout.pca import run_project_pca

    p = job.params
    run_project_pca(job.input.photos, by_city(job, "features"), job.input.base, job.output[0],
                    batch_size=p.batch_size, dataset=p.dataset)


def place_tsne(job) -> None:
    from .layout.tsne import run_place_tsne

    run_place_tsne(job.input.pca, job.input.base, job.output.points, job.output.facts)


def extend_grid(job) -> None:
    from .layout.extend import run_extend_grid

    run_extend_grid(job.input.points, job.input.photos, job.input.pca, job.input.base,
                    job.output.cells, job.output.facts, **job.params)


def update_tiles(job) -> None:
    from .viewer.tiles.update import run_update_tiles

    p = job.params
    run_update_tiles(job.input.cells, job.input.facts, by_city(job, "thumbs"), job.input.base,
                     job.output[0], cell_px=p.cell_px, tile_px=p.tile_px, quality=p.quality,
                     background=p.background, n_jobs=job.threads)


# --- map ---------------------------------------------------------------------------------------

def render_tiles(job) -> None:
    from .viewer.tiles.pyramid import run_tiles

    p = job.params
    run_tiles(job.input.cells, job.input.facts, by_city(job, "thumbs"), job.output[0],
              cell_px=p.cell_px, tile_px=p.tile_px, quality=p.quality, background=p.background,
              n_jobs=job.threads)


def render_arrangement_tiles(job) -> None:
    render_tiles(job)


def build_viewer(job) -> None:
    from .viewer.page import run_viewer

    p, i = job.params, job.input
    # each arrangement's files, matched to its name by their folder (results/layout/<name>/)
    grids = {Path(cells).parent.name: (cells, facts)
             for cells, facts in zip(i.arrangement_cells, i.arrangement_facts)}
    run_viewer(i.cells, i.facts, i.photos, i.neighbours, job.output.page, cell_px=p.cell_px,
               tile_px=p.tile_px, title=p.title, leaflet_dir=p.leaflet_dir,
               client_zip_dir=p.client_zip_dir, photo_roots=p.city_dirs,
               clusters_tsv=i.clusters or None, cull=p.cull,
               arrangements={name: grids[name] for name in p.arrangements})


# --- report figures ----------------------------------------------------------------------------

def plot_triage(job) -> None:
    from .report.figures import run_plot_triage

    run_plot_triage(job.input.photos, job.input.summary, job.output[0], **job.params)


def plot_pca_variance(job) -> None:
    from .report.figures import run_plot_pca_variance

    run_plot_pca_variance(job.input[0], job.output[0])


def plot_layout(job) -> None:
    from .report.figures import run_plot_layout

    i = job.input
    run_plot_layout(i.points, i.cells, i.facts, i.tsne, job.output[0])


def plot_counts(job) -> None:
    from .report.figures import run_plot_counts

    run_plot_counts(job.input[0], job.output[0])


def plot_examples(job) -> None:
    from .report.figures import run_plot_examples

    run_plot_examples(job.input.photos, job.input.duplicates, by_city(job, "thumbs"),
                      job.output.bins, job.output.duplicates)


def plot_tsne_thumbnails(job) -> None:
    from .report.figures import run_plot_tsne_thumbnails

    run_plot_tsne_thumbnails(job.input.points, job.input.cells, by_city(job, "thumbs"),
                             job.output[0], seed=job.params.seed)


def plot_benchmarks(job) -> None:
    from .report.figures import plot_benchmarks as plot

    plot(list(job.input), job.output[0])


def plot_arrangements(job) -> None:
    from .report.arrangements import run_plot_arrangements

    i, p = job.input, job.params
    # the rule lists similarity's files first, then the others in p.names' order
    grids = {name: files for name, files in zip(p.names, zip(i.cells, i.facts, i.tiles))}
    run_plot_arrangements(grids, i.points, i.pca, job.output.figure, job.output.table,
                          cell_px=p.cell_px, tile_px=p.tile_px, n_jobs=job.threads)


def plot_clusters(job) -> None:
    from .report.features import run_plot_clusters

    run_plot_clusters(job.input.table, job.input.facts, by_city(job, "thumbs"), job.output[0],
                      names=job.params.names)


def plot_culling(job) -> None:
    from .report.features import run_plot_culling

    run_plot_culling(job.input.metrics, job.input.summary, job.output[0])


# Functions above that are not adapters.
_NOT_ADAPTERS = {"run_rule", "run_here", "adapter_for", "by_city"}
