# A minimal image: the static binary on distroless (no shell, no package manager, non-root).
#   docker build -t cnpg-restore-gen .
#   docker run --rm -e GITEA_TOKEN -v "$PWD:/repo" cnpg-restore-gen pr --repo /repo --cluster auth/db --dry-run
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/cnpg-restore-gen ./cmd/cnpg-restore-gen

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cnpg-restore-gen /usr/local/bin/cnpg-restore-gen
ENTRYPOINT ["/usr/local/bin/cnpg-restore-gen"]
