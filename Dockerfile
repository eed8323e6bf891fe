# One image for the API and the workers (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1
WORKDIR /app

# torch first: point PIP_TORCH_ARGS at a CPU wheel index (e.g. --index-url <cpu index>)
# so that sentence-transformers does not pull the CUDA build.
ARG PIP_TORCH_ARGS=""
RUN pip install torch==2.13.0 $PIP_TORCH_ARGS

COPY pyproject.toml README.md ./
COPY api ./api
COPY workers ./workers
COPY embeddings ./embeddings
COPY frontend ./frontend
RUN pip install .

RUN useradd --create-home clustermatch && mkdir -p /data && chown clustermatch /data
USER clustermatch
# The ONNX Runtime encoder's export of the bundled model, made at build time into the user cache
# (~/.cache/clustermatch/models) so that no container exports it on boot; without it, torch runs.
RUN python -m embeddings.onnx_encoder || true
ENV CLUSTERMATCH_DATA_DIR=/data
EXPOSE 8000
CMD ["clustermatch", "api"]
