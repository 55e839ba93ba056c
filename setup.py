"""Packaging for stable-baselines-io.

TensorFlow comes in two distributions that provide the same ``tensorflow`` module and must not
be installed together: ``tensorflow`` (CPU + GPU, large) and ``tensorflow-cpu`` (CPU only,
much faster to install). Pick one with an extra::

    pip install "stable-baselines-io[cpu]"   # tensorflow-cpu
    pip install "stable-baselines-io[gpu]"   # tensorflow (CUDA support on Linux)

The format layer (reading, writing, inspecting and converting agent files) needs neither.
"""

from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = {}
exec((here / "stable_baselines_io" / "version.py").read_text(), version)

TENSORFLOW_VERSION = ">=2.16"

setup(
    name="stable-baselines-io",
    version=version["__version__"],
    description="Save, load and share TensorFlow 2 RL agents in the Stable Baselines zip format; PPO and DQN.",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["stable_baselines_io", "stable_baselines_io.*"]),
    package_data={"stable_baselines_io": ["py.typed"]},
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.24",
        "gymnasium>=1.0",
        "cloudpickle>=2.0",
        "tqdm>=4.60",
        # ISA-L's CRC-32, ~10x zlib's on big agent files; wheels for Linux, macOS and Windows (zlib stays the fallback)
        "isal>=1.6",
    ],
    extras_require={
        "cpu": [f"tensorflow-cpu{TENSORFLOW_VERSION}"],
        "gpu": [f"tensorflow{TENSORFLOW_VERSION}"],
        # the object-storage tests start moto's S3 server and reach it through s3fs (docs/scaling.md)
        "tests": ["pytest>=7", "pytest-timeout>=2", "hypothesis>=6", "fsspec>=2023.1", "s3fs>=2023.1",
                  "moto[server]>=5", "boto3>=1.26"],
        # agents at fsspec URLs: memory://, and any backend installed beside it (gcsfs for gs://...)
        "fsspec": ["fsspec>=2023.1"],
        # agents at s3:// URLs (AWS S3, MinIO, Ceph...)
        "s3": ["fsspec>=2023.1", "s3fs>=2023.1"],
        "lint": ["ruff>=0.4", "mypy>=1.8"],
        "plot": ["matplotlib>=3.7"],
        "benchmarks": ["safetensors>=0.4", "stable-baselines3>=2.3", "matplotlib>=3.7"],
        "fuzz": ["hypothesis>=6", "atheris>=2.3"],
        # model.export(..., format="onnx"); tested with tf2onnx 1.17.0 and onnxruntime 1.32.0 on TensorFlow 2.21.
        "export": ["tf2onnx>=1.17", "onnxruntime>=1.17"],
        # Atari games (CnnPolicy agents, sb-io train --env PongNoFrameskip-v4); the ROMs ship with ale-py.
        "atari": ["ale-py>=0.9"],
        # RayVecEnv, distributed evaluation, sb-io train --ray-address; tested with ray 2.60.0.
        "ray": ["ray>=2.9"],
    },
    entry_points={"console_scripts": ["sb-io=stable_baselines_io.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
