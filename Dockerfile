# The ecgnb inference service: CPU onnxruntime, no torch, non-root, with a health check.
#   ecgnb export --checkpoint models/checkpoint.pt --out models/model.onnx
#   docker build -t ecgnb-service .                       (or --build-arg MODEL=path/to/model.onnx)
#   docker run --rm -p 8000:8000 ecgnb-service            (-e ECGNB_API_KEY=... -e ECGNB_WORKERS=4 ...)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.
COPY docker/requirements-service.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

# The package without its training dependencies (torch etc. are never imported by the service).
COPY settings.ini setup.py README.md /tmp/ecgnb/
COPY ecgnb /tmp/ecgnb/ecgnb
RUN pip install --no-deps /tmp/ecgnb && rm -rf /tmp/ecgnb

ARG MODEL=models/model.onnx
COPY ${MODEL} /app/model.onnx

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin ecgnb
USER ecgnb

# Compile the numba kernels of ecgnb.compiled and ecgnb.features_compiled now, as the service user and into its own
# cache folder, so that a worker starts in about a second instead of compiling for tens of seconds.
ENV NUMBA_CACHE_DIR=/home/ecgnb/.numba
RUN python -c "import ecgnb.compiled as c, ecgnb.features_compiled as f; c.warm_up(); f.warm_up()"

ENV ECGNB_MODEL=/app/model.onnx ECGNB_WORKERS=2 PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/health', timeout=4)" || exit 1
# uvicorn directly (what `ecgnb serve` runs): the app reads ECGNB_MODEL, ECGNB_API_KEY, ECGNB_CORS_ORIGINS, ... itself.
CMD ["sh", "-c", "exec uvicorn ecgnb.service:app --host 0.0.0.0 --port \"$PORT\" --workers \"$ECGNB_WORKERS\" --no-access-log --timeout-keep-alive 30"]
