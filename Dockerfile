# Two stages: build a wheel with its dependencies, then run it as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY citizen_graph ./citizen_graph
RUN python -m pip install --no-cache-dir pip==26.3 \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# A numeric user, so that an orchestrator can check it is not root (runAsNonRoot);
# /var/lib/citizen-graph is where a volume for the audit trail goes (deploy/compose.yaml).
RUN groupadd --gid 10001 citizen-graph \
 && useradd --uid 10001 --gid 10001 --create-home citizen-graph \
 && install -d -o 10001 -g 10001 /var/lib/citizen-graph/audit
COPY --from=build /wheels /wheels
# Only the wheels built above: nothing is fetched at this stage.
RUN python -m pip install --no-cache-dir --no-index --find-links /wheels /wheels/citizen_graph-*.whl \
 && rm -rf /wheels
USER 10001:10001
WORKDIR /home/citizen-graph
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
# Exec form: no shell is needed (nor started) to probe the port the CMD serves.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["citizen-graph"]
# Without CITIZEN_GRAPH_CONFIG the gateway runs in sandbox mode (public demo keys, simulated
# State APIs): the image is a demo by default, and says so with --sandbox, without which
# sandbox mode is refused on a non-loopback host. A configuration turns sandbox mode off.
CMD ["serve", "--sandbox", "--host", "0.0.0.0", "--port", "8000"]
