# Two stages: build a wheel with its dependencies, then run it as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY citizen_graph ./citizen_graph
RUN python -m pip install --no-cache-dir --upgrade pip \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 citizen-graph
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER citizen-graph
WORKDIR /home/citizen-graph
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
# Without CITIZEN_GRAPH_CONFIG the gateway runs in sandbox mode (simulated State APIs).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
ENTRYPOINT ["citizen-graph"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
