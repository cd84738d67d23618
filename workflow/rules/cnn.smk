# CNN features (features.kind: cnn): the network exported once to ONNX; each city's scan job embeds
# its photos with it (scan.smk). embed_city embeds a city anew only when the scan's features were
# made by another model or precision (cnn_features() in common.smk).


rule export_cnn:
    output:
        "results/model/cnn.onnx",
    log:
        "logs/export_cnn.log",
    benchmark:
        "results/benchmarks/export_cnn.tsv"
    # Every scan waits for the model: start it before them.
    priority: 50
    conda:
        "../../envs/cnn.yaml"
    params:
        model=config["features"]["cnn"]["model"],
        input_px=config["features"]["cnn"]["input_px"],
        weights=config["features"]["cnn"]["weights"],
        precision=config["features"]["cnn"]["precision"],
        # how int8 is quantized: a new scheme re-exports the model (and so re-embeds the cities)
        quantization=str(quantization_of(config["features"]["cnn"]["precision"])),
    script:
        "../scripts/run_stage.py"


rule embed_city:
    input:
        photos="results/cities/{city}/photos.tsv",
        scan="results/cities/{city}/scan.tsv",
        model="results/model/cnn.onnx",
    output:
        "results/cities/{city}/cnn.h5",
    log:
        "logs/embed_city/{city}.log",
    benchmark:
        "results/benchmarks/embed_city/{city}.tsv"
    conda:
        "../../envs/cnn.yaml"
    threads: 2
    resources:
        mem_mb=1500,
        runtime=30,
    params:
        draft=config["scan"]["draft"],
        max_pixels=config["scan"]["max_pixels"],
        min_side=CNN_DRAFT_SIDE,
    script:
        "../scripts/run_stage.py"
