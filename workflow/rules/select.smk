# Which photos go on the map: entropy bins, the user's exclusions, duplicates across cities.


rule select_photos:
    input:
        photos=per_city("results/cities/{city}/photos.tsv"),
        scans=per_city("results/cities/{city}/scan.tsv"),
        stacks=per_city("results/cities/{city}/stacks.h5"),
        exclusions=config.get("exclude", {}).get("list_file") or [],
    output:
        photos="results/selection/photos.tsv",
        duplicates=report(
            "results/selection/duplicates.tsv",
            category="Selection",
            labels={"table": "duplicate groups"},
        ),
        summary="results/selection/summary.json",
    params:
        keep=config["triage"]["keep"],
        graphic_below=config["triage"]["graphic_below"],
        photo_from=config["triage"]["photo_from"],
        cities=CITIES,
        max_distance=config["duplicates"]["max_distance"],
        max_pixel_difference=config["duplicates"]["max_pixel_difference"],
    log:
        "logs/select_photos.log",
    conda:
        "../../envs/scan.yaml"
    script:
        "../scripts/select_photos.py"
