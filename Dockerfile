# satwatch on a GPU workstation or server. Cannot be built on the development machines (no Docker engine);
# it mirrors the Makefile's `install` step so the two stay in step.
# torch 2.14.1's wheels bundle CUDA 13 user-space libraries; the base image supplies the CUDA runtime setup
# the NVIDIA container toolkit expects.
FROM nvidia/cuda:13.0.1-cudnn-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    DO_NOT_TRACK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    SATWATCH_DATA_DIR=/data

# Python 3.11 (rasterio 1.4 and the pinned torch wheels target it) and make.
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common gpg-agent make ca-certificates \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv python3.11-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/satwatch
COPY . .
# The same install as on a workstation: system packages, .venv, the package (editable, so aoi/, scenarios/,
# models/ and flows/ are found beside it) and its pinned dependencies.
RUN make install PY=python3.11

ENV PATH=/opt/satwatch/.venv/bin:$PATH
VOLUME ["/data"]
ENTRYPOINT ["satwatch"]
CMD ["--help"]
