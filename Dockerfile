# graceinit's release image: nothing but the fully static binary, /graceinit, to copy into
# any application image (Debian, Ubuntu, Alpine/musl, distroless, scratch). It is built by
# .ci/build-static, the same script CI and developers run (pinned Debian bookworm sources,
# musl, mbedTLS, libcurl, libmicrohttpd, cJSON; see the script's header).
#
#     docker build -t graceinit .
#
# An application's Dockerfile then takes graceinit from it:
#
#     FROM debian:bookworm-slim          # or alpine, gcr.io/distroless/static, scratch...
#     COPY --from=graceinit /graceinit /graceinit
#     COPY my-server /usr/local/bin/my-server
#     ENTRYPOINT ["/graceinit", "--"]
#     CMD ["my-server", "--port", "8080"]
#
# (`--from=` takes an image name as well as a stage: a published tag of this image, or
# `FROM graceinit AS graceinit` first.) In Kubernetes, point the probes at graceinit's port:
# livenessProbe httpGet /livez, readinessProbe httpGet /readyz, port 9797.

FROM debian:bookworm AS build
WORKDIR /src
# The libraries first, in a layer of their own: rebuilt only when the script changes.
COPY .ci/build-static .ci/build-static
RUN bash .ci/build-static --deps-only
COPY . .
RUN bash .ci/build-static

FROM scratch
COPY --from=build /src/build-static/graceinit /graceinit
ENTRYPOINT ["/graceinit"]
