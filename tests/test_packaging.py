"""The repository's folders are the subpackages of wcs_trio, and nothing shadows the stdlib."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = {"core": "wcs_trio.core", "plugins": "wcs_trio.plugins", "codecs": "wcs_trio.codecs", "ops": "wcs_trio.ops"}


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for folder, package in TOP.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *relative.parts]))
    assert found == listed


def test_import_codecs_is_still_the_standard_library() -> None:
    code = "import codecs, wcs_trio.codecs, sys; print(codecs.__file__); print(codecs.lookup('utf-8').name)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    stdlib_file, name = out.stdout.split()
    assert "wcs_trio" not in stdlib_file and Path(stdlib_file).parent != ROOT / "codecs"
    assert name == "utf-8"


def test_wheel_carries_every_web_file_and_no_top_level_package(tmp_path: Path) -> None:
    """What `pip install .` installs: the wcs_trio namespace only, with the SDK and pages."""
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("wcs_trio-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    web = ROOT / "core" / "api" / "web"
    for file in web.rglob("*"):
        if file.is_file():
            assert f"wcs_trio/core/api/{file.relative_to(web.parent)}" in names
    tops = {name.split("/", 1)[0] for name in names if not name.startswith("wcs_trio-")}
    assert tops == {"wcs_trio"}
    assert not any(name.startswith("wcs_trio/__init__") for name in names)
