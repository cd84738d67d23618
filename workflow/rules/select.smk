# Which photos go on the map: entropy bins, the user's exclusions, culled types, duplicates across cities.


rule select_photos:
    input:
        photos=per_city("results/cities/{city}/photos.tsv"),
        scans=per_city("results/cities/{city}/scan.tsv"),
        stacks=per_city("results/cities/{city}/stacks.h5"),
        exclusions=config.get("exclude", {}).get("list_file") or [],
        clusters="results/clusters/clusters.tsv" if CLUSTERING else [],
        predictions="results/cull/predictions.tsv" if CULLING else [],
        cull_metrics="results/cull/metrics.json" if CULLING else [],
        # extend: a photo on the base map stays the kept copy of its duplicates
        base=BASE_INPUT,
    output:
        photos="results/selection/photos.tsv",
        duplicates=report(
            "results/selection/duplicates.tsv",
            category="Selection",
            labels={"table": "duplicate groups"},
        ),
        summary="results/selection/summary.json",
    log:
        "logs/select_photos.log",
    benchmark:
        "results/benchmarks/select_photos.tsv"
    conda:
        "../../envs/scan.yaml"
    params:
        keep=config["triage"]["keep"],
        graphic_below=config["triage"]["graphic_below"],
        photo_from=config["triage"]["photo_from"],
        cities=CITIES,
        max_distance=config["duplicates"]["max_distance"],
        cull_drop=CULL["drop"],
        cull_threshold=CULL["threshold"],
        max_pixel_difference=config["duplicates"]["max_pixel_difference"],
    script:
        "../scripts/run_stage.py"
