# One job a city: the index of its folder (every file, the listing metadata, why a file is not
# read), then one pass over its photos: triage entropy, dHash, feature stacks and thumbnails, and
# with features.kind cnn the CNN features from the same decode (SCAN_OUTPUTS, in common.smk).
# Indexing in the scan's job spares each city a job of its own (~0.4 s of start-up apiece).


rule scan_city:
    input:
        **SCAN_INPUTS,
    output:
        **SCAN_OUTPUTS,
    log:
        "logs/scan_city/{city}.log",
    benchmark:
        "results/benchmarks/scan_city/{city}.tsv"
    conda:
        "../../envs/scan.yaml"
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        city_dir=lambda wc: city_dir(wc.city),
        fingerprint=city_fingerprint,
        stack_size=config["scan"]["stack"]["size"],
        sigmas=config["scan"]["stack"]["sigmas"],
        colour=config["scan"]["stack"]["colour"],
        thumb_px=config["scan"]["thumb_px"],
        draft=config["scan"]["draft"],
        max_pixels=config["scan"]["max_pixels"],
    script:
        "../scripts/run_stage.py"


# A named target: every city's photos fetched (demo, scrape) or indexed, and scanned, with nothing
# global after them: `snakemake --cores 8 scans` to look at the triage before a first map, or to
# scrape everything first.
rule scans:
    input:
        [per_city(path) for path in SCAN_OUTPUTS.values()],
