"""One adapter per Snakemake rule, named after the rule, and the file-level stage functions they
call.

Every rule's ``script:`` is ``workflow/scripts/run_stage.py``, which calls :func:`run_rule`; that
looks up the function named after the job's rule here and hands it Snakemake's job object. An
adapter only unpacks the job (input, output, params, wildcards, threads) into a stage call.

Each function imports what its stage needs when it runs, never at module level: rules run in
different conda environments (``envs/*.yaml``), and the viewer's environment, for one, has no
lapjv, scikit-learn or openTSNE.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping, Sequence

logger = logging.getLogger(__name__)


def run_rule(job) -> None:
    """Run the adapter named after ``job.rule`` with the job's log file receiving its logging."""
    from .runlog import logged

    adapter = RULES.get(job.rule)
    if adapter is None:
        raise LookupError(f"no stage adapter for rule {job.rule!r}; add one to roomgrid.stages.RULES")
    with logged(job.log[0] if job.log else None):
        adapter(job)


# --- sources ---------------------------------------------------------------------------------

def make_demo_city(job) -> None:
    from .demo import make_demo_city as generate

    generate(job.wildcards.city, job.output[0], **job.params)


def scrape_city(job) -> None:
    from .scrape import scrape_city as scrape

    scrape(job.wildcards.city, Path(job.output[0]).parent, job.params.settings)


def index_city(job) -> None:
    from .io import write_table
    from .sources import index_city as index, metadata_for_city

    city = job.wildcards.city
    metadata = metadata_for_city(job.input.metadata or None, city)
    table = index(city, job.params.city_dir, metadata=metadata)
    write_table(table, job.output[0])
    logger.info("%s: %d photos indexed", city, len(table))


# --- per-city scan and selection -------------------------------------------------------------

def scan_city(job) -> None:
    from .scan import ScanSettings, scan_city as scan

    scan(job.input[0], job.output.scan, job.output.stacks, job.output.thumbs,
         ScanSettings(**dict(job.params.items())))


def select_photos(job) -> None:
    from .io import read_table
    from .select import read_exclusions, select_photos as select, write_selection

    p, i = job.params, job.input
    table, duplicates = select(
        i.photos, i.scans, keep_bins=p.keep, graphic_below=p.graphic_below,
        photo_from=p.photo_from, max_distance=p.max_distance,
        exclusions=read_exclusions(i.exclusions or None),
        clusters=read_table(i.clusters, ["id", "cluster"]) if i.clusters else None,
        predictions=read_table(i.predictions) if i.predictions else None,
        cull_drop=p.cull_drop, cull_threshold=p.cull_threshold,
        stacks=dict(zip(p.cities, i.stacks)), max_pixel_difference=p.max_pixel_difference,
        placed=read_table(Path(i.base) / "grid.tsv", ["id"])["id"] if i.get("base") else None)
    write_selection(table, duplicates, job.output.photos, job.output.duplicates, job.output.summary)


# --- what photos show: CNN features, clusters, culling -----------------------------------------

def export_cnn(job) -> None:
    from .cnn import export_onnx

    p = job.params
    export_onnx(job.output[0], model=p.model, input_px=p.input_px, weights=p.weights,
                precision=p.precision)


def embed_city(job) -> None:
    from .cnn import EmbedSettings, embed_city as embed

    p = job.params
    settings = EmbedSettings(threads=job.threads, device=p.device, batch_size=p.batch_size,
                             draft=p.draft, max_pixels=p.max_pixels)
    embed(job.input.photos, job.input.scan, job.input.model, job.output[0], settings)


def cluster_photos(job) -> None:
    p = job.params
    run_clusters(dict(zip(p.cities, job.input.scans)), dict(zip(p.cities, job.input.features)),
                 job.output.table, job.output.facts, dataset=p.dataset, k=p.k, seed=p.seed,
                 base_dir=job.input.get("base") or None)


def embed_labels(job) -> None:
    from .cull import embed_label_folder
    from .io import write_table

    p = job.params
    files = embed_label_folder(p.labels_dir, job.output.features, kind=p.kind,
                               model_onnx=job.input.model or None, threads=job.threads,
                               device=p.device, stack=p.stack, max_pixels=p.max_pixels)
    write_table(files, job.output.files)


def predict_types(job) -> None:
    p, i = job.params, job.input
    run_predict_types(dict(zip(p.cities, i.scans)), dict(zip(p.cities, i.features)),
                      job.output.predictions, job.output.metrics, dataset=p.dataset,
                      labels_csv=i.labels_csv or None, labels_h5=i.labels_h5 or None,
                      clusters_tsv=i.clusters or None, cluster_labels=p.cluster_labels,
                      cluster_examples=p.cluster_examples)


# --- embedding and layout ----------------------------------------------------------------------

def reduce_pca(job) -> None:
    p = job.params
    run_pca(job.input.photos, dict(zip(p.cities, job.input.features)), job.output[0],
            n_components=p.n_components, batch_size=p.batch_size, method=p.method,
            dataset=p.dataset)


def embed_tsne(job) -> None:
    run_tsne(job.input[0], job.output.points, job.output.facts, n_jobs=job.threads,
             model_pkl=job.output.model, **job.params)


def find_neighbours(job) -> None:
    run_neighbours(job.input[0], job.output[0], k=job.params.k, seed=job.params.seed,
                   n_jobs=job.threads)


def assign_grid(job) -> None:
    run_grid(job.input.points, job.input.photos, job.output.cells, job.output.facts,
             n_jobs=job.threads, **job.params)


# --- growing a built map (layout.mode: extend) -------------------------------------------------

def save_base(job) -> None:
    i = job.input
    run_save_base({"pca.h5": i.pca, "tsne.pkl": i.model, "tsne.tsv": i.points,
                   "tsne.json": i.tsne_facts, "grid.tsv": i.cells, "grid.json": i.facts,
                   "tiles": i.tiles, "clusters.tsv": i.get("clusters"),
                   "clusters.json": i.get("cluster_facts")}, job.output[0])


def project_pca(job) -> None:
    p = job.params
    run_project_pca(job.input.photos, dict(zip(p.cities, job.input.features)), job.input.base,
                    job.output[0], batch_size=p.batch_size, dataset=p.dataset)


def place_tsne(job) -> None:
    run_place_tsne(job.input.pca, job.input.base, job.output.points, job.output.facts)


def extend_grid(job) -> None:
    run_extend_grid(job.input.points, job.input.photos, job.input.pca, job.input.base,
                    job.output.cells, job.output.facts, **job.params)


def update_tiles(job) -> None:
    p = job.params
    run_update_tiles(job.input.cells, job.input.facts, dict(zip(p.cities, job.input.thumbs)),
                     job.input.base, job.output[0], cell_px=p.cell_px, tile_px=p.tile_px,
                     quality=p.quality, background=p.background, n_jobs=job.threads)


# --- map ---------------------------------------------------------------------------------------

def render_tiles(job) -> None:
    p = job.params
    run_tiles(job.input.cells, job.input.facts, dict(zip(p.cities, job.input.thumbs)), job.output[0],
              cell_px=p.cell_px, tile_px=p.tile_px, quality=p.quality, background=p.background,
              n_jobs=job.threads)


def build_viewer(job) -> None:
    p = job.params
    run_viewer(job.input.cells, job.input.facts, job.input.photos, job.input.neighbours,
               job.output.page, cell_px=p.cell_px, tile_px=p.tile_px, title=p.title,
               leaflet_dir=p.leaflet_dir, photo_roots=p.city_dirs)


# --- report figures ----------------------------------------------------------------------------

def plot_triage(job) -> None:
    from .io import read_json, read_table
    from .report import plot_triage as plot

    plot(read_table(job.input.photos), read_json(job.input.summary), job.output[0], **job.params)


def plot_pca_variance(job) -> None:
    from .pca import read_embedding
    from .report import plot_pca_variance as plot

    _, _, facts = read_embedding(job.input[0])
    plot(facts["explained_variance_ratio"], job.output[0])


def plot_layout(job) -> None:
    from .io import read_json, read_table
    from .report import plot_layout as plot

    plot(read_table(job.input.points), read_table(job.input.cells), read_json(job.input.facts),
         read_json(job.input.tsne), job.output[0])


def plot_counts(job) -> None:
    from .io import read_table
    from .report import plot_counts as plot

    plot(read_table(job.input[0]), job.output[0])


def plot_examples(job) -> None:
    from .io import read_table
    from .report import plot_bin_examples, plot_duplicate_examples

    thumbs = dict(zip(job.params.cities, job.input.thumbs))
    plot_bin_examples(read_table(job.input.photos), thumbs, job.output.bins)
    plot_duplicate_examples(read_table(job.input.duplicates), thumbs, job.output.duplicates)


def plot_tsne_thumbnails(job) -> None:
    from .io import read_table
    from .report import plot_tsne_thumbnails as plot

    cells = read_table(job.input.cells)
    plot(read_table(job.input.points), dict(zip(cells["id"], cells["city"])),
         dict(zip(job.params.cities, job.input.thumbs)), job.output[0], seed=job.params.seed)


def plot_benchmarks(job) -> None:
    from .report import plot_benchmarks as plot

    plot(list(job.input), job.output[0])


def plot_clusters(job) -> None:
    from .io import read_json, read_table
    from .report_cull import plot_clusters as plot

    plot(read_table(job.input.table), read_json(job.input.facts),
         dict(zip(job.params.cities, job.input.thumbs)), job.output[0], names=job.params.names)


def plot_culling(job) -> None:
    from .io import read_json
    from .report_cull import plot_culling as plot

    plot(read_json(job.input.metrics), read_json(job.input.summary), job.output[0])


RULES = {adapter.__name__: adapter for adapter in (
    make_demo_city, scrape_city, index_city, scan_city, select_photos, export_cnn, embed_city,
    cluster_photos, embed_labels, predict_types, reduce_pca, embed_tsne, find_neighbours,
    assign_grid, render_tiles, build_viewer, plot_triage, plot_pca_variance, plot_layout,
    plot_counts, plot_examples, plot_tsne_thumbnails, plot_benchmarks, plot_clusters,
    plot_culling, save_base, project_pca, place_tsne, extend_grid, update_tiles)}


# --- file-level stages (callable without Snakemake) ----------------------------------------------

def selected_photos(photos_tsv: str | os.PathLike, columns: list[str] | None = None):
    """The placed photos, in id order: the row order of every global artifact. Reading only the
    ``columns`` a stage needs keeps 125k-row tables small."""
    from .io import read_table

    table = read_table(photos_tsv, None if columns is None else ["id", "selected", *columns])
    return table[table["selected"].astype(bool)].sort_values("id").reset_index(drop=True)


def readable_photos(scans: Mapping[str, str]):
    """``id``, ``city``, ``sha256`` of every photo the scan could read (all have features), by id."""
    import pandas as pd

    from .io import read_table

    tables = [read_table(path, ["id", "status", "sha256"]).assign(city=city)
              for city, path in scans.items()]
    table = pd.concat(tables, ignore_index=True)
    table = table[table["status"].eq("ok")].drop(columns="status")
    return table.sort_values("id").reset_index(drop=True)


def run_clusters(scans: Mapping[str, str], features: Mapping[str, str], out_tsv, out_json, *,
                 dataset: str, k: int, seed: int, base_dir=None) -> None:
    """k-means clusters of every readable photo. With ``base_dir`` (``layout.mode: extend``)
    the base's clusters are kept and new photos join the nearest one, unless the base has no
    clusters or was clustered with another ``k`` or ``seed``: those are fitted afresh."""
    from .clusters import extend_clusters, fit_clusters
    from .io import read_json, read_table, write_json, write_table
    from .stackreader import StackReader

    photos = readable_photos(scans)
    base_facts = None
    if base_dir is not None and (Path(base_dir) / "clusters.json").exists():
        base_facts = read_json(Path(base_dir) / "clusters.json")
        if (base_facts["k"], base_facts["seed"]) != (min(k, len(photos)), seed):
            logger.info("clusters: the base has k=%s, seed=%s; fitting k=%s, seed=%s afresh",
                        base_facts["k"], base_facts["seed"], k, seed)
            base_facts = None
    with StackReader(features, photos["id"], photos["city"], dataset=dataset) as reader:
        if base_facts is None:
            table, _, facts = fit_clusters(reader, k, seed=seed)
        else:
            table, facts = extend_clusters(reader, read_table(Path(base_dir) / "clusters.tsv"),
                                           base_facts)
    write_table(table, out_tsv)
    write_json(facts, out_json)


def run_predict_types(scans: Mapping[str, str], features: Mapping[str, str], out_tsv, out_json, *,
                      dataset: str, labels_csv=None, labels_h5=None, clusters_tsv=None,
                      cluster_labels=None, cluster_examples: int = 200) -> None:
    from .cull import cull_photos
    from .io import read_table, write_json, write_table

    photos = readable_photos(scans)
    table, metrics = cull_photos(
        readable=photos[["id", "city"]], feature_files=features, dataset=dataset,
        labels_csv=labels_csv, labels_h5=labels_h5,
        clusters=read_table(clusters_tsv) if clusters_tsv else None,
        cluster_labels=cluster_labels, cluster_examples_per=cluster_examples,
        scan_sha256=photos.set_index("id")["sha256"])
    write_table(table, out_tsv)
    write_json(metrics, out_json)


def run_pca(photos_tsv, features: Mapping[str, str], out_h5, *, n_components: int,
            batch_size: int, method: str, dataset: str = "stacks") -> None:
    from . import pca
    from .stackreader import StackReader

    from .io import read_table
    from .select import too_few_to_map

    # The first stage that needs photos says so, and the selection table saying why stays.
    problem = too_few_to_map(read_table(photos_tsv, ["selected", "dropped"]))
    if problem:
        raise ValueError(f"{problem}: see column 'dropped' of {photos_tsv}")
    chosen = selected_photos(photos_tsv, ["city"])
    with StackReader(features, chosen["id"], chosen["city"], dataset=dataset) as reader:
        coords, info, basis = pca.reduce(reader, n_components, batch_size, method)
    pca.write_embedding(out_h5, chosen["id"], coords, info, basis)


def run_tsne(pca_h5, out_tsv, out_json, *, n_jobs: int = 1, model_pkl=None, **settings) -> None:
    import pickle

    import numpy as np
    import pandas as pd

    from .io import atomic_path, write_json, write_table
    from .pca import read_embedding
    from .tsne import fit

    ids, coords, _ = read_embedding(pca_h5)
    embedding, info = fit(coords, n_jobs=n_jobs, **settings)
    xy = np.asarray(embedding, dtype=np.float64)
    write_table(pd.DataFrame({"id": ids, "x": xy[:, 0], "y": xy[:, 1]}), out_tsv)
    write_json(info, out_json)
    if model_pkl is not None:
        # The fitted embedding with its affinities: what places photos added later.
        with atomic_path(model_pkl) as tmp, open(tmp, "wb") as handle:
            pickle.dump(embedding, handle, protocol=pickle.HIGHEST_PROTOCOL)


def run_neighbours(pca_h5, out_tsv, *, k: int, seed: int, n_jobs: int = 1) -> None:
    import pandas as pd

    from .io import write_table
    from .pca import read_embedding
    from .tsne import nearest_neighbours

    ids, coords, _ = read_embedding(pca_h5)
    found = nearest_neighbours(coords, k, seed=seed, n_jobs=n_jobs)
    neighbours = [" ".join(ids[row]) for row in found]
    write_table(pd.DataFrame({"id": ids, "neighbours": neighbours}), out_tsv)


def run_grid(tsne_tsv, photos_tsv, out_tsv, out_json, *, method: str, exact_max: int,
             block_size: int, aspect: float, spare: float = 0.0, seed: int = 0,
             n_jobs: int = 1) -> None:
    """Assign every photo its cell. ``spare`` > 0 leaves that share of extra cells empty, spread
    like the photos (:func:`roomgrid.extend.spare_points`), for photos added later."""
    import numpy as np
    import pandas as pd

    from . import grid
    from .extend import grid_frame, spare_points
    from .io import read_table, write_json, write_table

    points = read_table(tsne_tsv)
    cities = selected_photos(photos_tsv, ["city"]).set_index("id")["city"]
    xy = points[["x", "y"]].to_numpy(dtype=np.float64)
    placeholders = spare_points(xy, spare, seed=seed)
    laid_out = np.vstack([xy, placeholders])
    rows, cols = grid.grid_shape(len(laid_out), aspect)
    cells, used = grid.assign_cells(laid_out, rows, cols, method=method, exact_max=exact_max,
                                    block_size=block_size, n_jobs=n_jobs, seed=seed)
    cells = cells[:len(xy)]  # the placeholders' cells stay empty
    quality = grid.layout_quality(xy, cells, rows, cols)
    table = pd.DataFrame({"id": points["id"], "city": points["id"].map(cities),
                          "row": cells // cols, "col": cells % cols})
    write_table(table, out_tsv)
    write_json({"rows": int(rows), "cols": int(cols), "n": int(len(xy)), "method": used,
                "mode": "rebuild", "spare_cells": int(len(placeholders)),
                "frame": grid_frame(laid_out, rows, cols),
                "quality": {k: float(v) for k, v in quality.items()}}, out_json)
    logger.info("grid %dx%d for %d photos and %d spare cells (%s): %s", rows, cols, len(xy),
                len(placeholders), used, quality)


def run_tiles(cells_tsv, facts_json, thumbs: Mapping[str, str], out_dir, *, cell_px: int,
              tile_px: int, quality: int, background: Sequence[int], n_jobs: int = 1) -> dict:
    from .io import read_json, read_table
    from .tiles import render_tiles as render

    facts = read_json(facts_json)
    return render(read_table(cells_tsv), thumbs, out_dir, cell_px=cell_px,
                  shape=(facts["rows"], facts["cols"]), quality=quality, tile_px=tile_px,
                  background=tuple(background), n_jobs=n_jobs)


def run_viewer(cells_tsv, facts_json, photos_tsv, neighbours_tsv, page_html, *, cell_px: int,
               tile_px: int, title: str, leaflet_dir, photo_roots: Mapping[str, str]) -> None:
    from .io import read_json, read_table
    from .tiles import TileGeometry
    from .viewer import build_viewer as build

    facts = read_json(facts_json)
    geometry = TileGeometry(facts["rows"], facts["cols"], cell_px, tile_px)
    quality = facts.get("quality", {})
    settings = {"grid": f"{facts['rows']} x {facts['cols']} ({facts.get('method', '?')})",
                "mean squared displacement": round(quality.get("mean_sq_displacement", float("nan")), 3),
                "8 nearest kept": round(quality.get("knn_kept", float("nan")), 3)}
    build(read_table(cells_tsv), selected_photos(photos_tsv), read_table(neighbours_tsv),
          os.path.dirname(page_html), geometry=geometry, leaflet_dir=leaflet_dir,
          photo_roots=photo_roots, title=title, settings=settings)


# --- growing a built map -------------------------------------------------------------------------

BASE_FILES = ("pca.h5", "tsne.pkl", "tsne.tsv", "tsne.json", "grid.tsv", "grid.json", "tiles")
# Kept too when the build made them (clusters.k > 0), so an extension keeps the cluster numbers.
OPTIONAL_BASE_FILES = ("clusters.tsv", "clusters.json")


def run_save_base(parts: Mapping[str, str], out_dir) -> None:
    """Keep a full build's PCA, t-SNE, grid and tiles as the base that extensions grow from.

    Files are hard-linked where the file system allows (a 125k-photo pyramid is ~30,000 tiles),
    copied elsewhere. Every stage replaces its outputs by renaming a new file onto them, so a link
    here keeps the base's version after the build moves on.
    """
    import shutil

    from .io import atomic_directory

    missing = sorted(set(BASE_FILES) - set(parts))
    if missing:
        raise ValueError(f"a base needs {list(BASE_FILES)}; missing {missing}")
    with atomic_directory(out_dir) as work:
        for name in BASE_FILES + tuple(n for n in OPTIONAL_BASE_FILES if parts.get(n)):
            source = Path(parts[name])
            if source.is_dir():
                shutil.copytree(source, work / name, copy_function=_link_or_copy)
            else:
                _link_or_copy(source, work / name)


def _link_or_copy(source, target) -> None:
    import shutil

    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def run_project_pca(photos_tsv, features: Mapping[str, str], base_dir, out_h5, *, batch_size: int,
                    dataset: str) -> None:
    """PCA coordinates of every selected photo: the base's own for its photos, the base basis's
    projection for new ones."""
    import numpy as np

    from . import pca
    from .stackreader import StackReader

    base_h5 = Path(base_dir) / "pca.h5"
    base_ids, base_coords, info = pca.read_embedding(base_h5)
    basis = pca.read_basis(base_h5)
    chosen = selected_photos(photos_tsv, ["city"])
    position = {photo_id: i for i, photo_id in enumerate(base_ids)}
    in_base = chosen["id"].map(position)
    new = chosen[in_base.isna()]
    coords = np.empty((len(chosen), base_coords.shape[1]), dtype=np.float32)
    known = in_base.notna().to_numpy()
    coords[known] = base_coords[in_base[known].astype(int).to_numpy()]
    if len(new):
        with StackReader(features, new["id"], new["city"], dataset=dataset) as reader:
            if reader.n_features != basis.components.shape[1]:
                raise ValueError(
                    f"the base's PCA basis takes {basis.components.shape[1]} features, but "
                    f"{dataset!r} holds {reader.n_features}: features changed since the base was "
                    "built; rebuild (layout.mode: rebuild)")
            coords[~known] = pca.project_rows(reader, basis, batch_size)
    info = dict(info) | {"mode": "extend", "projected": int(len(new)),
                         "removed": int(len(base_ids) - known.sum())}
    pca.write_embedding(out_h5, chosen["id"], coords, info, basis)
    logger.info("pca: %d photos from the base, %d new projected onto its basis, %d removed",
                known.sum(), len(new), info["removed"])


def run_place_tsne(pca_h5, base_dir, out_tsv, out_json) -> None:
    """t-SNE positions of every photo: the base's for its photos, openTSNE's ``transform`` into
    the base embedding for new ones."""
    import pickle

    import numpy as np
    import pandas as pd

    from .io import read_json, read_table, write_json, write_table
    from .pca import read_embedding
    from .tsne import place

    base_dir = Path(base_dir)
    ids, coords, _ = read_embedding(pca_h5)
    base_points = read_table(base_dir / "tsne.tsv").set_index("id")
    known = pd.Index(ids).isin(base_points.index)
    xy = np.empty((len(ids), 2))
    xy[known] = base_points.loc[ids[known], ["x", "y"]].to_numpy(np.float64)
    if (~known).any():
        with open(base_dir / "tsne.pkl", "rb") as handle:
            embedding = pickle.load(handle)
        xy[~known] = place(embedding, coords[~known])
    write_table(pd.DataFrame({"id": ids, "x": xy[:, 0], "y": xy[:, 1]}), out_tsv)
    write_json(read_json(base_dir / "tsne.json") | {
        "mode": "extend", "n": int(len(ids)), "placed": int((~known).sum()),
        "removed": int((~base_points.index.isin(ids)).sum())}, out_json)
    logger.info("tsne: %d photos kept their base position, %d placed into the base map",
                known.sum(), (~known).sum())


def run_extend_grid(tsne_tsv, photos_tsv, pca_h5, base_dir, out_tsv, out_json, *, aspect: float,
                    rebuild_below: float) -> dict:
    """Cells for every selected photo: base photos keep theirs, new ones get free cells near
    their t-SNE position (the grid grows at its edge when needed); removed photos leave theirs
    empty. The facts add the drift (:func:`roomgrid.extend.drift`) and whether a rebuild is
    recommended (new photos keep less than ``rebuild_below`` of the base photos' kNN share)."""
    import numpy as np
    import pandas as pd

    from . import extend, grid
    from .io import read_json, read_table, write_json, write_table
    from .pca import read_embedding

    base_dir = Path(base_dir)
    points = read_table(tsne_tsv)
    cities = selected_photos(photos_tsv, ["city"]).set_index("id")["city"]
    base = read_table(base_dir / "grid.tsv")
    base_facts = read_json(base_dir / "grid.json")
    frame = base_facts.get("frame") or extend.grid_frame(
        read_table(base_dir / "tsne.tsv")[["x", "y"]].to_numpy(np.float64),
        base_facts["rows"], base_facts["cols"])
    kept = base[base["id"].isin(points["id"])]
    is_new = ~points["id"].isin(base["id"]).to_numpy()
    xy = points[["x", "y"]].to_numpy(np.float64)
    base_points = read_table(base_dir / "tsne.tsv").set_index("id").loc[kept["id"]]
    positions = extend.grid_targets(xy[is_new], base_points[["x", "y"]].to_numpy(np.float64),
                                    kept[["row", "col"]].to_numpy(np.int64), frame)
    ids, features, _ = read_embedding(pca_h5)
    if list(ids) != list(points["id"]):
        raise ValueError(f"{pca_h5} and {tsne_tsv} list different photos")
    look_alikes = extend.look_alikes(features, is_new, points["id"].map(
        pd.Series(np.arange(len(kept)), index=kept["id"])).to_numpy())
    new_rows, new_cols, (rows, cols) = extend.extend_grid(
        kept, positions, (base_facts["rows"], base_facts["cols"]), aspect=aspect,
        look_alikes=look_alikes)
    row = points["id"].map(kept.set_index("id")["row"])
    col = points["id"].map(kept.set_index("id")["col"])
    row[is_new], col[is_new] = new_rows, new_cols
    table = pd.DataFrame({"id": points["id"], "city": points["id"].map(cities),
                          "row": row.astype(np.int64), "col": col.astype(np.int64)})
    write_table(table, out_tsv)

    cells = table["row"].to_numpy() * cols + table["col"].to_numpy()
    centres = np.column_stack([new_cols + 0.5, new_rows + 0.5])
    displacement = np.sqrt(((positions - centres) ** 2).sum(axis=1))
    drift = extend.drift(features, cells, is_new, displacement, rows=rows, cols=cols)
    recommended = drift["knn_ratio"] is not None and drift["knn_ratio"] < rebuild_below
    quality = grid.layout_quality(xy, cells, rows, cols)
    facts = {"rows": int(rows), "cols": int(cols), "n": int(len(points)), "method": "extend",
             "mode": "extend", "frame": frame,
             "base": {"rows": int(base_facts["rows"]), "cols": int(base_facts["cols"]),
                      "n": int(len(base))},
             "removed": int(len(base) - len(kept)),
             "quality": {k: float(v) for k, v in quality.items()},
             "drift": drift, "rebuild_below": float(rebuild_below),
             "rebuild_recommended": bool(recommended)}
    write_json(facts, out_json)
    if recommended:
        logger.warning("extend: new photos keep %.2f of the base photos' look-alike share "
                       "(threshold %.2f): a rebuild (layout.mode: rebuild) would place them better",
                       drift["knn_ratio"], rebuild_below)
    logger.info("extend: %d new photos, %d removed, grid %dx%d (base %dx%d): %s", is_new.sum(),
                facts["removed"], rows, cols, base_facts["rows"], base_facts["cols"], drift)
    return facts


def run_update_tiles(cells_tsv, facts_json, thumbs: Mapping[str, str], base_dir, out_dir, *,
                     cell_px: int, tile_px: int, quality: int, background: Sequence[int],
                     n_jobs: int = 1) -> dict:
    from .extend import changed_cells
    from .io import read_json, read_table
    from .tiles import update_tiles

    base_dir = Path(base_dir)
    cells = read_table(cells_tsv)
    facts = read_json(facts_json)
    changed = changed_cells(read_table(base_dir / "grid.tsv"), cells)
    return update_tiles(cells, thumbs, base_dir / "tiles", changed, out_dir, cell_px=cell_px,
                        shape=(facts["rows"], facts["cols"]), quality=quality, tile_px=tile_px,
                        background=tuple(background), n_jobs=n_jobs)
