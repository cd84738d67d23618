# One pass over each city's photos: triage entropy, dHash, feature stacks and thumbnails, and with
# features.kind cnn the CNN features from the same decode (SCAN_OUTPUTS, in common.smk).


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
        stack_size=config["scan"]["stack"]["size"],
        sigmas=config["scan"]["stack"]["sigmas"],
        colour=config["scan"]["stack"]["colour"],
        thumb_px=config["scan"]["thumb_px"],
        draft=config["scan"]["draft"],
        max_pixels=config["scan"]["max_pixels"],
    script:
        "../scripts/run_stage.py"
