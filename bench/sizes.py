"""Package sizes of ``.aws-sam/build``: unzipped, and zipped the way they are uploaded (deflate).

``sam build`` runs only when the build directory is missing (it takes a while); otherwise the existing
build is measured and a note says when it looks older than the sources or the template's runtime.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from bench import report

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".aws-sam" / "build"
ARTIFACTS = (
    "SharedLayer",
    "CenterLayer",
    "PasskeysLayer",
    "AccountFunction",
    "AdminFunction",
    "AuthorizerFunction",
    "CenterFunction",
    "CodesFunction",
    "DocsFunction",
    "PasskeysFunction",
    "WechatFunction",
)
LAYER = "SharedLayer"
LAYERS = {
    "CenterFunction": ("SharedLayer", "CenterLayer"),
    "PasskeysFunction": ("SharedLayer", "PasskeysLayer"),
}  # a function's layers, when not only the shared one
UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + all its layers, unzipped
ZIPPED_LIMIT = 50 * 1024 * 1024  # direct upload of one zip
BAR = 10 * 1024 * 1024  # issue 14: a function's package and its layers, zipped as uploaded
SOURCES = ("shared", "functions", "layers/shared", "layers/center", "layers/passkeys")


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def unzipped_size(root: Path) -> int:
    return sum(p.stat().st_size for p in files(root))


def zipped_size(root: Path) -> int:
    with tempfile.TemporaryFile() as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in files(root):
                archive.write(path, path.relative_to(root).as_posix())
        return handle.tell()


def find_sam() -> str | None:
    local = ROOT / ".venv-sam" / "bin" / "sam"
    return shutil.which("sam") or (str(local) if local.exists() else None)


def sam_build() -> str | None:
    """Run ``sam build``; an explanation when it could not run or failed, else None."""
    sam = find_sam()
    if sam is None:
        return "no build and no `sam` binary (run `make sam` or `make build` first)"
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("SAM_CLI_TELEMETRY", "0")
    print(f"  .aws-sam/build is missing: running `{sam} build` (once) ...", flush=True)
    done = subprocess.run([sam, "build"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return "sam build failed: " + " | ".join(tail)
    return None


def staleness() -> list[str]:
    """Reasons to think the existing build no longer matches the sources."""
    reasons: list[str] = []
    built_at = (BUILD / "template.yaml").stat().st_mtime if (BUILD / "template.yaml").exists() else 0.0
    newer = [
        str(p.relative_to(ROOT))
        for source in SOURCES
        for p in files(ROOT / source)
        if "__pycache__" not in p.parts and p.stat().st_mtime > built_at
    ]
    if newer:
        reasons.append(f"{len(newer)} source file(s) changed since the build (e.g. {newer[0]})")
    toml = ROOT / ".aws-sam" / "build.toml"
    template_runtime = re.search(r"^\s*Runtime:\s*(\S+)", (ROOT / "template.yaml").read_text(), re.M)
    if toml.exists() and template_runtime:
        built = set(re.findall(r'^runtime = "([^"]+)"', toml.read_text(), re.M))
        if built and built != {template_runtime.group(1)}:
            reasons.append(f"built for {', '.join(sorted(built))}, template says {template_runtime.group(1)}")
    return reasons


def run() -> None:
    report.heading("4. Package sizes (.aws-sam/build; zipped with deflate)")
    if not BUILD.exists() or staleness():
        problem = sam_build()
        if problem:
            report.note(problem)
            return
    missing = [name for name in ARTIFACTS if not (BUILD / name).exists()]
    if missing:
        report.note(f"the build has no {', '.join(missing)}; run `make build`")
        return

    unzipped = {name: unzipped_size(BUILD / name) for name in ARTIFACTS}
    zipped = {name: zipped_size(BUILD / name) for name in ARTIFACTS}
    rows = [
        [
            name,
            str(len(files(BUILD / name))),
            report.size(unzipped[name]),
            report.size(zipped[name]),
            f"{zipped[name] / ZIPPED_LIMIT:.0%}",
        ]
        for name in ARTIFACTS
    ]
    report.table(["artifact", "files", "unzipped", "zipped", "of 50 MB zip limit"], rows, "<>>>>")
    print()
    each = []
    for function in (name for name in ARTIFACTS if name.endswith("Function")):
        layers = LAYERS.get(function, (LAYER,))
        packed = zipped[function] + sum(zipped[layer] for layer in layers)
        total = unzipped[function] + sum(unzipped[layer] for layer in layers)
        each.append(
            [
                function,
                " + ".join(layers),
                report.size(packed),
                f"{report.verdict(packed <= BAR)}",
                report.size(total),
                f"{total / UNZIPPED_LIMIT:.0%}",
            ]
        )
    report.table(["function", "layers", "zipped, all", "bar 10 MB", "unzipped, all", "of 250 MB"], each, "<<>>>>")
    layer_root = BUILD / LAYER / "python"
    if layer_root.exists():
        entries = sorted(
            ((p.name, unzipped_size(p) if p.is_dir() else p.stat().st_size) for p in layer_root.iterdir()),
            key=lambda item: item[1],
            reverse=True,
        )[:5]
        print("  largest in the layer: " + ", ".join(f"{name} {report.size(n)}" for name, n in entries))
    modified = (BUILD / "template.yaml").stat().st_mtime if (BUILD / "template.yaml").exists() else None
    for reason in staleness():
        report.note(f"the build may be stale: {reason}; `make build` refreshes it")
    if modified is not None:
        import datetime as dt

        when = dt.datetime.fromtimestamp(modified).strftime("%Y-%m-%d %H:%M")
        report.note(f"measured the build of {when}; boto3/botocore are not in the layer (the runtime has them)")
