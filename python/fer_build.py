"""fer_build.py - the PEP 517 build backend of the fer package, with no dependencies (pip
needs nothing from the network to run it).

The wheel holds fer/__init__.py and libfer.so. The library is the one FER_LIBRARY names, or
else the repository's build/libfer.so, made with `make build/libfer.so` in the folder above
this one (which needs fer's build packages: scripts/install-deps.sh).
"""
import base64
import hashlib
import os
import subprocess
import sysconfig
import zipfile

NAME, VERSION = "fer", "0.1.0"
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DIST_INFO = f"{NAME}-{VERSION}.dist-info"

METADATA = f"""Metadata-Version: 2.1
Name: {NAME}
Version: {VERSION}
Summary: Facial emotion recognition: faces, their emotions and their tracks, from fer's C library
Requires-Python: >=3.9
License: MIT
"""


def _tag():
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"py3-none-{platform}"


def _library():
    """The path of the libfer.so to ship; builds it when it has to."""
    given = os.environ.get("FER_LIBRARY")
    if given:
        if not os.path.isfile(given):
            raise RuntimeError(f"FER_LIBRARY={given}: no such file")
        return given
    if not os.path.isfile(os.path.join(REPO, "Makefile")):
        raise RuntimeError("fer's Makefile is not beside python/: set FER_LIBRARY to a libfer.so")
    jobs = str(os.cpu_count() or 1)
    subprocess.run(["make", "-C", REPO, "-j", jobs, "build/libfer.so"], check=True)
    return os.path.join(REPO, "build", "libfer.so")


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    folder = os.path.join(metadata_directory, DIST_INFO)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "METADATA"), "w") as f:
        f.write(METADATA)
    return DIST_INFO


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    tag = _tag()
    files = {}
    for name in sorted(os.listdir(os.path.join(HERE, "fer"))):
        if name.endswith(".py"):
            with open(os.path.join(HERE, "fer", name), "rb") as f:
                files[f"fer/{name}"] = f.read()
    with open(_library(), "rb") as f:
        files["fer/libfer.so"] = f.read()
    files[f"{DIST_INFO}/METADATA"] = METADATA.encode()
    files[f"{DIST_INFO}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: fer_build\nRoot-Is-Purelib: false\nTag: {tag}\n".encode()
    )
    files[f"{DIST_INFO}/top_level.txt"] = b"fer\n"
    record = [_record_line(p, d) for p, d in files.items()] + [f"{DIST_INFO}/RECORD,,"]
    files[f"{DIST_INFO}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = f"{NAME}-{VERSION}-{tag}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if path.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return wheel
