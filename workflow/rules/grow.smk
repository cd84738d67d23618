# Growing a built map. A rebuild keeps its PCA basis, t-SNE embedding, grid and tiles in
# results/base/; with layout.mode extend the rules below replace reduce_pca, embed_tsne,
# assign_grid and render_tiles, adding new photos to that base without moving placed ones.

BASE = ["results/base"] if LAYOUT == "rebuild" else []

if LAYOUT == "rebuild":

    rule save_base:
        input:
            pca="results/embedding/pca.h5",
            model="results/embedding/tsne.pkl",
            points="results/embedding/tsne.tsv",
            tsne_facts="results/embedding/tsne.json",
            cells="results/layout/grid.tsv",
            facts="results/layout/grid.json",
            tiles="results/viewer/tiles",
            clusters="results/clusters/clusters.tsv" if CLUSTERING else [],
            cluster_facts="results/clusters/clusters.json" if CLUSTERING else [],
        output:
            directory("results/base"),
        log:
            "logs/save_base.log",
        conda:
            "../../envs/viewer.yaml"
        script:
            "../scripts/run_stage.py"


if LAYOUT == "extend":

    rule project_pca:
        input:
            photos="results/selection/photos.tsv",
            features=feature_files(),
            base="results/base",
        output:
            "results/embedding/pca.h5",
        log:
            "logs/project_pca.log",
        conda:
            "../../envs/embed.yaml"
        params:
            cities=CITIES,
            dataset=FEATURE_DATASET,
            batch_size=config["pca"]["batch_size"],
        script:
            "../scripts/run_stage.py"

    rule place_tsne:
        input:
            pca="results/embedding/pca.h5",
            base="results/base",
        output:
            points="results/embedding/tsne.tsv",
            facts="results/embedding/tsne.json",
        log:
            "logs/place_tsne.log",
        conda:
            "../../envs/embed.yaml"
        script:
            "../scripts/run_stage.py"

    rule extend_grid:
        input:
            points="results/embedding/tsne.tsv",
            photos="results/selection/photos.tsv",
            pca="results/embedding/pca.h5",
            base="results/base",
        output:
            cells="results/layout/grid.tsv",
            facts="results/layout/grid.json",
        log:
            "logs/extend_grid.log",
        conda:
            "../../envs/embed.yaml"
        params:
            aspect=config["grid"]["aspect"],
            rebuild_below=config["layout"]["rebuild_below"],
        script:
            "../scripts/run_stage.py"

    rule update_tiles:
        input:
            cells="results/layout/grid.tsv",
            facts="results/layout/grid.json",
            thumbs=per_city("results/cities/{city}/thumbs.h5"),
            base="results/base",
        output:
            directory("results/viewer/tiles"),
        log:
            "logs/update_tiles.log",
        conda:
            "../../envs/viewer.yaml"
        params:
            cities=CITIES,
            cell_px=config["tiles"]["cell_px"],
            tile_px=config["tiles"]["tile_px"],
            quality=config["tiles"]["quality"],
            background=config["tiles"]["background"],
        script:
            "../scripts/run_stage.py"
