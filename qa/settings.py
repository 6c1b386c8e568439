"""Settings, read from ``QA_*`` environment variables (and a ``.env`` file) with sensible defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the service; ``QA_<NAME>`` overrides each one."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    model: str = Field("default", description="sentence-transformers folder or id; 'default' = bundled e5-small")
    # onnx by measurement (bench.onnx_quality, bench.build): hybrid Recall@5 within a point of torch on every
    # set, builds ~1.8x and question encoding 2-4x faster
    backend: str = Field("onnx", description="'onnx' (int8 ONNX Runtime, the default) or 'torch' (fp32)")
    cache_dir: Path = Field(ROOT / ".cache", description="converted model and embedding cache")
    index_dir: Path = Field(ROOT / "data" / "index", description="the index directory served and built")
    seeds_dir: Path = Field(ROOT / "seeds", description="the default document source")
    web_dir: Path = Field(ROOT / "web", description="templates/ and static/")
    top_k: int = Field(5, ge=1, le=50)
    reader: bool = Field(False, description="1: the trained reader reads the best answer sentences of the "
                         "questions the plain decision is unsure of (off: on held-out questions it refused a little "
                         "more and answered less; README, Answers you can trust)")
    host: str = "127.0.0.1"
    port: int = 8000
    # 1 by measurement (bench.threads): on a shared 2-core machine a 2-thread torch encode waits on a
    # descheduled sibling thread and gets several times slower; builds use every core regardless.
    query_threads: int | None = Field(1, ge=1, description="intra-op threads per question encoding (None: all)")
    max_concurrency: int = Field(2, ge=1, description="questions encoded at once")
    max_queue: int = Field(8, ge=0, description="questions waiting beyond max_concurrency before 503")
    queue_timeout_s: float = Field(5.0, gt=0, description="longest wait for a model slot before 503")
    cache_size: int = Field(256, ge=0, description="recent answers kept for identical questions")
    cache_ttl_s: float = Field(60.0, ge=0)
    admin_token: str | None = Field(None, description="bearer token that enables admin endpoints")
    reload_interval_s: float = Field(2.0, ge=0, description="how often serve checks for a rebuilt index (0: never)")
    trim_interval_s: float = Field(5.0, ge=0, description="how often serve returns freed memory to the OS (0: never)")
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    max_upload_bytes: int = Field(50 * 2**20, ge=1024, description="largest document upload (POST/PUT /api/documents)")
    write_wait_s: float = Field(30.0, ge=0, description="how long an upload or deletion waits for another write")
    # operations (qa/serve: security, requestlog, feedback; qa serve)
    max_header_bytes: int = Field(16 * 1024, ge=1024, description="request headers beyond this get 431")
    body_timeout_s: float = Field(5.0, gt=0, description="a request body that stalls this long gets 408")
    shutdown_timeout_s: float = Field(10.0, gt=0, description="on SIGTERM, longest wait for requests in flight")
    workers: int = Field(1, ge=1, le=64, description="worker processes of `qa serve`")
    adaptive_threads: bool = Field(True, description="a question alone on idle cores is encoded on all of them "
                                   "(query_threads otherwise); see qa/serve/threads.py")
    log_questions: bool = Field(False, description="put the question text in the request log lines")
    cors_origins: str = Field("", description="comma-separated origins allowed by CORS (empty: CORS off)")
    feedback_db: Path | None = Field(None, description="feedback SQLite file [default: beside the index]")
    feedback_max_rows: int = Field(10_000, ge=1, description="feedback kept (the oldest go beyond this)")
    feedback_per_minute: int = Field(10, ge=1, description="feedback accepted per client and minute")

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
    vector_store: str = Field("faiss", description="'faiss' (a file in the index) or 'milvus' (QA_MILVUS_URI)")
    milvus_uri: str | None = Field(None, description="Milvus Lite file (path ending .db) or http://host:19530")
    milvus_token: str | None = Field(None, description="Milvus server token (user:password), if it needs one")

    def vector_store_config(self) -> dict[str, str | None]:
        """The vector store builds write to (``embeddings.stores`` configuration)."""
        if self.vector_store == "milvus":
            return {"backend": "milvus", "uri": self.milvus_uri, "token": self.milvus_token}
        return {"backend": self.vector_store}
