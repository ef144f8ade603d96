"""Write zerofl_profiler/calibration/published/rows.toml from local clones of the source repositories.

Every measured number and its quote is copied from the file line it came from (never retyped),
so the package data can be re-derived and checked:

    python benchmarks/extract_published.py --mnn CLONE --zeus CLONE --dle CLONE --lambda CLONE [--out rows.toml]

Each clone is a git directory (bare or not); files are read at its HEAD commit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "zerofl_profiler" / "calibration" / "published" / "rows.toml"

MNN_REPO = "UbiquitousLearning/Benchmark-On-Device-Training"
ZEUS_REPO = "ml-energy/zeus"
DLE_REPO = "NVIDIA/DeepLearningExamples"
LAMBDA_REPO = "lambdal/deeplearning-benchmark"

#: MNN benchmark model directory -> our model name
MNN_MODELS = {"Lenet": "mnn-lenet", "Mobilenet": "mobilenet-v2", "Alexnet": "mnn-alexnet",
              "Squeezenet": "mnn-squeezenet", "GoogLenet": "mnn-googlenet"}
#: MNN phone directory -> what the repository says about that run
MNN_PHONES = {
    "XIAOMI": "Xiaomi phone, SM8150 (Snapdragon 855) per bench_session.result, default CPU governor",
    "MEIZU_Freq_1708800": "Meizu phone, SM8150 (Snapdragon 855) per bench_session.result, run directory named "
                          "for a 1708800 kHz CPU frequency setting",
    "MEIZU_Core_f0": "Meizu phone, SM8150 (Snapdragon 855) per bench_session.result, run directory named "
                     "'Core_f0' (a setting the repository does not document)",
}
MNN_PRECISION = ("MNN BackendConfig() default precision (Precision_Normal, FP32 on CPU) in "
                 "clean_status/MnistBenchmarkUtils.cpp and mobilenetV2BenchmarkUtils.cpp: "
                 "'exe->setGlobalExecutorConfig(MNN_FORWARD_CPU, config, 4);'")
#: Zeus dataset -> (our model name, training-set size, its basis)
ZEUS_SETS = {
    "imagenet": ("resnet50-v1.5", 1281167, "ImageNet-1k (ILSVRC 2012) training set: 1,281,167 images"),
    "cifar100": ("shufflenet-v2", 50000, "CIFAR-100 training set: 50,000 images"),
}


def git_show(repo: Path, path: str) -> str:
    """A file's text at the clone's HEAD."""
    return subprocess.run(["git", "--git-dir", str(repo), "show", f"HEAD:{path}"], check=True,
                          capture_output=True, text=True).stdout


def head(repo: Path) -> str:
    """The clone's HEAD commit."""
    return subprocess.run(["git", "--git-dir", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def q(s: str) -> str:
    """A TOML basic string."""
    return json.dumps(s, ensure_ascii=False)


def row_toml(r: dict) -> str:
    """One [[row]] table."""
    out = ["[[row]]"]
    for k, v in r.items():
        if isinstance(v, dict):
            continue
        out.append(f"{k} = {q(v) if isinstance(v, str) else json.dumps(v)}")
    for k, v in r.items():
        if isinstance(v, dict):
            out.append(f"[row.{k}]")
            out += [f"{kk} = {q(vv) if isinstance(vv, str) else json.dumps(vv)}" for kk, vv in v.items()]
    return "\n".join(out) + "\n"


def mnn_rows(repo: Path) -> list[dict]:
    """Training step times (and per-step energy above baseline) of the MNN on-device benchmark."""
    commit = head(repo)
    base = "tools/train/benchmark"
    rows = []
    energy_file = f"{base}/singleBatch_energy_MEIZU_Freq_1708800.csv"
    e_lines = git_show(repo, energy_file).splitlines()
    e_cols = e_lines[0].split(",")
    energy = {}
    for line in e_lines[1:]:
        cells = line.split(",")
        for col, cell in zip(e_cols[1:], cells[1:]):
            energy[(col, int(cells[0]))] = (float(cell), line)
    for phone, setup in MNN_PHONES.items():
        for mdir, model in MNN_MODELS.items():
            path = f"{base}/{phone}/processed_data/{mdir}/time_table_{mdir}.csv"
            try:
                lines = git_show(repo, path).splitlines()
            except subprocess.CalledProcessError:
                continue
            lines = git_show(repo, path).splitlines()
            assert lines[0] == ",batchsize,expr_train,expr_infer,session_infer", lines[0]
            for line in lines[1:]:
                cells = line.split(",")
                batch = int(cells[1])
                r = {"id": f"mnn-{phone.lower().replace('_', '-')}-{model}-b{batch}", "device": "snapdragon-855",
                     "unit": "cpu", "runtime": "mnn", "model": model, "batch": batch, "optimizer": "sgd",
                     "precision": "fp32", "precision_basis": MNN_PRECISION,
                     "setup": f"{setup}; MNN expression training, 4 threads; column expr_train (ms per step)",
                     "measured": {"value": float(cells[2]), "unit": "ms_per_step"},
                     "source": {"repository": MNN_REPO, "commit": commit, "file": path,
                                "header": lines[0], "quote": line}}
                if phone == "MEIZU_Freq_1708800" and (mdir, batch) in energy:
                    val, eline = energy[(mdir, batch)]
                    r["energy"] = {"value": val, "unit": "j_per_step_above_baseline",
                                   "basis": "energy_compute.py: USB voltage x current minus the idle baseline, "
                                            "over the training window, divided by its assumed step count"}
                    r["energy_source"] = {"repository": MNN_REPO, "commit": commit, "file": energy_file,
                                          "header": e_lines[0], "quote": eline}
                rows.append(r)
    return rows


#: the trace's optimizer column -> the FLOP counter's optimizer (defaults of torch.optim.Adam/Adadelta)
ZEUS_OPTIMIZERS = {"adam": "adam", "adadelta": "adadelta"}


#: Zeus power-trace GPU (summary_power_<gpu>.csv) -> (our device, every power limit or only the highest,
#: precision, its basis, the board-variant note of the setup)
ZEUS_GPUS = {
    "v100": ("v100", True, "fp32",
             "assumption: the trace states no precision; its batch-256 epoch (0.70 s per step, 364 img/s) matches "
             "NVIDIA's FP32 V100 figure (356 img/s), not AMP (1156 img/s)",
             "the trace's highest is 250 W; board variant not stated"),
    "a40": ("a40", False, "tf32",
            "assumption: the trace states no precision; Zeus's Dockerfile at 9703b31 installs pytorch==1.10.1 ('RUN "
            "conda install -y -c pytorch pytorch==1.10.1 torchvision==0.11.2 cudatoolkit==11.3.1'), which on Ampere "
            "runs FP32 convolutions and matmuls on TF32 tensor cores by default (PyTorch 1.10 "
            "notes/numerical_accuracy.rst: 'On Ampere Nvidia GPUs, PyTorch by default uses TensorFloat32 (TF32)')",
            "the trace's highest, the A40's 300 W maximum power; board variant not stated (the A40 is one PCIe board)"),
    "rtx6000": ("rtx6000", False, "fp32",
                "assumption: the trace states no precision; PyTorch 1.10 (Zeus's Dockerfile at 9703b31: "
                "pytorch==1.10.1) trains in FP32 unless autocast is asked for, and Turing has no TF32",
                "the trace's highest; board variant not stated, taken as the actively cooled Quadro RTX 6000 "
                "(260 W; the passive board's maximum is 250 W)"),
    "p100": ("p100", False, "fp32",
             "assumption: the trace states no precision; PyTorch 1.10 (Zeus's Dockerfile at 9703b31: "
             "pytorch==1.10.1) trains in FP32 unless autocast is asked for, and Pascal has neither tensor cores nor TF32",
             "the trace's highest; board variant not stated, taken as the Tesla P100 PCIe 16 GB (250 W; SXM2: 300 W)"),
}


def zeus_rows(repo: Path) -> list[dict]:
    """Epoch time and average power of ResNet-50 (ImageNet) and ShuffleNetV2 (CIFAR-100) from the Zeus power
    traces: every power limit on the V100 (its power modes), only the board's own (highest) limit elsewhere."""
    commit = head(repo)
    rows = []
    for gpu, (device, every_limit, precision, basis, variant) in ZEUS_GPUS.items():
        path = f"examples/research_reproducibility/zeus_nsdi23/trace/summary_power_{gpu}.csv"
        lines = git_show(repo, path).splitlines()
        assert lines[0] == "dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power", lines[0]
        top = max(int(line.split(",")[4]) for line in lines[1:])
        for line in lines[1:]:
            ds, net, b, opt, pl, t, p = line.split(",")
            if ds not in ZEUS_SETS or not (every_limit or int(pl) == top):
                continue
            model, samples, samples_basis = ZEUS_SETS[ds]
            rows.append({
                "id": f"zeus-{gpu}-{net}-b{b}-{opt}-{pl}w", "device": device, "unit": "gpu",
                "runtime": "pytorch-eager", "model": model, "batch": int(b), "optimizer": ZEUS_OPTIMIZERS[opt],
                "precision": precision, "precision_basis": basis,
                "setup": (f"Zeus NSDI'23 power trace, power limit {pl} W ({variant}), optimizer {opt} "
                          f"(torch.optim, for-loop path of PyTorch 1.10)"),
                "power_limit_w": int(pl),
                "measured": {"value": float(t), "unit": "s_per_epoch", "epoch_samples": samples,
                             "epoch_samples_basis": samples_basis},
                "power": {"value": float(p), "unit": "w_average", "basis": "trace column average_power (GPU, NVML)"},
                "source": {"repository": ZEUS_REPO, "commit": commit, "file": path, "header": lines[0],
                           "quote": line}})
    return rows


#: DeepLearningExamples ConvNets README directory -> (configs.yml model key = our model name, id stem)
DLE_MODELS = {"resnet50v1.5": ("resnet50", "resnet50-v1.5", "resnet50"),
              "resnext101-32x4d": ("resnext101-32x4d", "resnext101-32x4d", "resnext101-32x4d"),
              "se-resnext101-32x4d": ("se-resnext101-32x4d", "se-resnext101-32x4d", "se-resnext101-32x4d")}
#: training-performance table heading -> (device, memory, configs.yml platform, column 1's precision)
DLE_TABLES = {
    "##### Training performance: NVIDIA DGX A100 (8x A100 80GB)": ("a100", "80g", "DGXA100", "TF32"),
    "##### Training performance: NVIDIA DGX-1 16GB (8x V100 16GB)": ("v100", "16g", "DGX1V", "FP32"),
    "##### Training performance: NVIDIA DGX-1 32GB (8x V100 32GB)": ("v100", "32g", "DGX1V", "FP32"),
}
DLE_TF32 = "TF32 is supported in the NVIDIA Ampere GPU architecture and is enabled by default."


def dle_rows(repo: Path) -> list[dict]:
    """Training throughput (1 and 8 GPUs) of NVIDIA's PyTorch ConvNets READMEs, batch from configs.yml."""
    import yaml  # PyYAML (dev extra): configs.yml uses anchors and merge keys

    commit = head(repo)
    base = "PyTorch/Classification/ConvNets"
    configs = yaml.safe_load(git_show(repo, f"{base}/configs.yml"))["models"]
    rows = []
    for mdir, (key, model, stem) in DLE_MODELS.items():
        path = f"{base}/{mdir}/README.md"
        text = git_show(repo, path)
        assert DLE_TF32 in text, path
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.strip() not in DLE_TABLES:
                continue
            device, mem, platform, prec1 = DLE_TABLES[line.strip()]
            hdr = lines[i + 2]
            heads = [c.strip() for c in hdr.strip().strip("|").split("|")]
            assert heads[1] == f"**Throughput - {prec1}**" and heads[2] == "**Throughput - mixed precision**", hdr
            batch = {p: configs[key][platform][p]["batch_size"] for p in (prec1, "AMP")}
            cols = ((("tf32" if prec1 == "TF32" else "fp32"), prec1,
                     f"{prec1} column; configs.yml {platform} {prec1} batch_size: {batch[prec1]}"
                     + (f"; README: '{DLE_TF32}'" if prec1 == "TF32" else "")),
                    ("fp16", "AMP", f"mixed-precision (AMP) column; configs.yml {platform} AMP batch_size: "
                                    f"{batch['AMP']}"))
            for one in (ln for ln in lines[i + 2:i + 8] if ln.replace(" ", "").startswith(("|1|", "|8|"))):
                cells = [c.strip() for c in one.strip("|").split("|")]
                gpus = int(cells[0])
                for col, (prec, cfg, basis) in enumerate(cols, start=1):
                    b = batch[cfg]
                    rows.append({
                        "id": f"dle-{device}-{mem}-{stem}-{prec}-b{b}-{gpus}gpu", "device": device,
                        "unit": "gpu", "runtime": "pytorch-eager", "model": model, "batch": b,
                        "gpus": gpus, "optimizer": "sgd_momentum_wd", "precision": prec, "precision_basis": basis,
                        "setup": f"{line.strip()[6:]}, {gpus}-GPU row, pytorch-21.03 NGC container, batch per GPU",
                        "measured": {"value": float(cells[col].split()[0]), "unit": "samples_per_s"},
                        "source": {"repository": DLE_REPO, "commit": commit, "file": path, "header": hdr,
                                   "quote": one}})
    return rows


#: EfficientNet README's training-performance headings -> (device, memory, configs.yml platform, column 1)
DLE_EFFNET_TABLES = {
    "##### Training performance: NVIDIA A100 (8x A100 80GB)": ("a100", "80g", "DGXA100", "TF32"),
    "##### Training performance: NVIDIA DGX-1 (8x V100 16GB)": ("v100", "16g", "DGX1V-16G", "FP32"),
    "##### Training performance: NVIDIA DGX-1 (8x V100 32GB)": ("v100", "32g", "DGX1V-32G", "FP32"),
}
DLE_EFFNET_MODELS = ("efficientnet-b0", "efficientnet-b4", "efficientnet-widese-b0", "efficientnet-widese-b4")
DLE_RMSPROP = ("configs.yml efficientnet_params: optimizer: rmsprop, momentum: 0.9, weight_decay per model "
               "(image_classification/optimizers.py: torch.optim.RMSprop, not centered)")


def dle_effnet_rows(repo: Path) -> list[dict]:
    """EfficientNet training throughput of NVIDIA's PyTorch ConvNets README (one table per system, a row
    per model and GPU count), batch from configs.yml."""
    import yaml  # PyYAML (dev extra)

    commit = head(repo)
    base = "PyTorch/Classification/ConvNets"
    configs = yaml.safe_load(git_show(repo, f"{base}/configs.yml"))["models"]
    path = f"{base}/efficientnet/README.md"
    text = git_show(repo, path)
    assert DLE_TF32 in text, path
    lines = text.splitlines()
    rows = []
    for i, line in enumerate(lines):
        if line.strip() not in DLE_EFFNET_TABLES:
            continue
        device, mem, platform, prec1 = DLE_EFFNET_TABLES[line.strip()]
        j = next(k for k in range(i + 1, i + 6) if lines[k].startswith("|"))
        hdr = lines[j]
        heads = [c.strip() for c in hdr.strip().strip("|").split("|")]
        assert heads[:4] == ["**Model**", "**GPUs**", f"**{prec1}**", "**Throughput - mixed precision**"], hdr
        for one in lines[j + 2:]:
            if not one.startswith("|"):
                break
            cells = [c.strip() for c in one.strip("|").split("|")]
            model, gpus = cells[0], int(cells[1])
            assert model in DLE_EFFNET_MODELS, one
            cfg = configs[model][platform]
            for col, (prec, key) in enumerate(((("tf32" if prec1 == "TF32" else "fp32"), prec1), ("fp16", "AMP")),
                                              start=2):
                b = cfg[key]["batch_size"]
                basis = (f"{prec1} column; configs.yml {model} {platform} {prec1} batch_size: {b}"
                         + (f"; README: '{DLE_TF32}'" if prec1 == "TF32" else "") if key != "AMP" else
                         f"mixed-precision (AMP) column; configs.yml {model} {platform} AMP batch_size: {b}")
                rows.append({
                    "id": f"dle-{device}-{mem}-{model}-{prec}-b{b}-{gpus}gpu", "device": device,
                    "unit": "gpu", "runtime": "pytorch-eager", "model": model, "batch": b,
                    "gpus": gpus, "optimizer": "rmsprop_momentum_wd", "precision": prec, "precision_basis": basis,
                    "setup": (f"{line.strip()[6:]}, {gpus}-GPU row, PyTorch 21.03 NGC container, batch per GPU, "
                              f"image size {cfg[key]['image_size']}; optimizer: {DLE_RMSPROP}"),
                    "measured": {"value": float(cells[col].split()[0]), "unit": "samples_per_s"},
                    "source": {"repository": DLE_REPO, "commit": commit, "file": path, "header": hdr,
                               "quote": one}})
    return rows


#: Lambda's single-GPU result directories whose name identifies a catalogue board -> (device, what names it).
#: Left out: "V100" (form factor and memory not named), the A100 40 GB and PCIe boards and the H100 PCIe
#: (other bandwidth or power limit than the catalogue's A100 80 GB SXM4 and H100 SXM5), boards not in the
#: catalogue. A run whose log has no Summary line (it stopped before the end) has no measurement.
LAMBDA_SYSTEMS = {
    "LambdaCloud_V100_16GB_v1": ("v100", "V100 16 GB at 300 W per GPU (compile_results_pytorch.py): the SXM2 board"),
    "A100_80GB_SXM4": ("a100", "A100 80 GB SXM4"), "A100_80GB_SXM4_v1": ("a100", "A100 80 GB SXM4"),
    "H100_80GB_SXM5_v1": ("h100", "H100 80 GB SXM5"), "Dell_H100_80GB_SXM5_v1": ("h100", "H100 80 GB SXM5 (Dell)"),
    "DellTexas_H100_80GB_SXM5_v1": ("h100", "H100 80 GB SXM5 (Dell)"),
    "SMC_H100_80GB_SXM5_v1": ("h100", "H100 80 GB SXM5 (Supermicro)"),
    "1cc_H100_80GB_SXM5_v1": ("h100", "H100 80 GB SXM5 (1-Click Cluster)"),
    "RAIDZ1_H100_80GB_SXM5_v1": ("h100", "H100 80 GB SXM5"),
    "A40": ("a40", "A40"), "QuadroRTX6000": ("rtx6000", "Quadro RTX 6000"),
    "LambdaCloud_1xQuadroRTX6000": ("rtx6000", "Quadro RTX 6000 (Lambda Cloud)"),
}
#: the run parameters quoted into each row's setup, as the run's own DLL PARAMETER line prints them
LAMBDA_PARAMS = ("data_backend", "batch_size", "amp", "fp16", "static_loss_scale", "memory_format", "optimizer",
                 "momentum", "weight_decay", "bn_weight_decay", "nesterov", "label_smoothing", "mixup", "prof")
#: GPUs whose FP32 runs use TF32 tensor cores for convolutions (PyTorch's default on Ampere and newer)
LAMBDA_TF32 = ("a100", "h100", "a40")


def lambda_rows(repo: Path) -> list[dict]:
    """ResNet-50 training throughput of Lambda's PyTorch benchmark (NVIDIA's ConvNets in an NGC container),
    one GPU, from each run's own log: role "check", so no fit sees them."""
    import re

    commit = head(repo)
    listing = subprocess.run(["git", "--git-dir", str(repo), "ls-tree", "-r", "--name-only", "HEAD", "pytorch/results"],
                             check=True, capture_output=True, text=True).stdout.split()
    rows = []
    for system, (device, board) in LAMBDA_SYSTEMS.items():
        for task in ("FP32", "AMP"):
            logs = sorted(f for f in listing if f.startswith(f"pytorch/results/{system}/PyTorch_resnet50_{task}/")
                          and f.endswith(".txt"))
            assert len(logs) == 1, (system, task, logs)
            text = git_show(repo, logs[0]).splitlines()
            summ = next((ln for ln in text if " - Summary: train.loss" in ln), None)
            if summ is None:
                print(f"lambda: {logs[0]} has no Summary line (the run stopped): no row", file=sys.stderr)
                continue
            par = next(ln for ln in text if " - PARAMETER data : " in ln)
            vals = dict(re.findall(r"(\w+) : (\S*)", par.split(" - PARAMETER ", 1)[1]))
            assert vals["amp"] == ("True" if task == "AMP" else "False") and vals.get("fp16", "False") == "False", par
            ips = float(re.search(r"train\.total_ips : ([0-9.]+) (?:images|img)/s", summ).group(1))
            b = int(vals["batch_size"])
            prec = "fp16" if task == "AMP" else ("tf32" if device in LAMBDA_TF32 else "fp32")
            fmt = vals.get("memory_format", "(no such parameter in this version: PyTorch's default, NCHW)")
            basis = (f"the run's AMP task (amp : True, static loss scale {vals['static_loss_scale']}), memory format "
                     f"{fmt}" if task == "AMP" else "the run's FP32 task (amp : False)" + (
                         "; on Ampere and Hopper PyTorch runs cuDNN convolutions in TF32 by default "
                         "(torch.backends.cudnn.allow_tf32 defaults to True)" if prec == "tf32" else ""))
            setup = (f"Lambda's PyTorch benchmark (NVIDIA DeepLearningExamples ConvNets in a PyTorch NGC container), "
                     f"results/{system}: {board}, 1 GPU; the run's parameters: "
                     + ", ".join(f"{k} : {vals[k]}" for k in LAMBDA_PARAMS if k in vals)
                     + "; the Summary line's train.total_ips")
            rows.append({
                "id": f"lambda-{system.lower().replace('_', '-')}-resnet50-{prec}-b{b}", "device": device,
                "unit": "gpu", "runtime": "pytorch-eager", "model": "resnet50-v1.5", "batch": b, "gpus": 1,
                "optimizer": "sgd_momentum_wd", "precision": prec, "precision_basis": basis, "setup": setup,
                "role": "check",
                "measured": {"value": ips, "unit": "samples_per_s"},
                "source": {"repository": LAMBDA_REPO, "commit": commit, "file": logs[0], "quote": summ}})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnn", type=Path, required=True)
    ap.add_argument("--zeus", type=Path, required=True)
    ap.add_argument("--dle", type=Path, required=True)
    ap.add_argument("--lambda", dest="lambda_", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    rows = mnn_rows(a.mnn) + zeus_rows(a.zeus) + dle_rows(a.dle) + dle_effnet_rows(a.dle) + lambda_rows(a.lambda_)
    text = ("# Published, measured training steps (generated by benchmarks/extract_published.py; every\n"
            "# number and quote is copied from the named file at the named commit). Read by\n"
            "# zerofl_profiler.calibration.published.rows.\n"
            "schema = 1\n\n" + "\n".join(row_toml(r) for r in rows))
    a.out.write_text(text)
    print(f"{len(rows)} rows -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
