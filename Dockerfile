# livetally services (ingest, Faust worker, dashboard, admin CLI) in one image.
# Kafka itself runs in its own container (see docker-compose.yml) or anywhere
# LIVETALLY_BOOTSTRAP points to; this image never starts a broker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin livetally

WORKDIR /src
# Dependencies first, so code edits do not reinstall them: install the project's
# requirements from pyproject.toml, then the code itself without dependencies.
# (README.m[d]: the readme pyproject.toml names, copied when present.)
COPY pyproject.toml README.m[d] ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY contract ./contract
COPY ingest ./ingest
COPY stream ./stream
COPY dashboard ./dashboard
COPY livetally ./livetally
RUN pip install --no-deps . && rm -rf /src/build

USER livetally
WORKDIR /home/livetally
# Pid files, logs and Faust's local state; mount a volume here to keep them.
ENV LIVETALLY_HOME=/home/livetally/state
RUN mkdir -p /home/livetally/state

ENTRYPOINT ["livetally"]
CMD ["--help"]
