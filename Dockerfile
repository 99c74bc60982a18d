# syntax=docker/dockerfile:1
# Build: a Native AOT sidekick for linux, on the .NET 10 SDK image.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# Native AOT links with clang and needs zlib's headers.
RUN apt-get update && apt-get install -y --no-install-recommends clang zlib1g-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN ./build.sh publish

# Run: chiseled runtime-deps (distroless, CA certificates included, no shell), non-root.
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled
COPY --from=build /src/artifacts/publish/sidekick /sidekick
USER $APP_UID
EXPOSE 8080
ENTRYPOINT ["/sidekick"]
