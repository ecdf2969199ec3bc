package main

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"
)

// serverFloor measures how fast the S3 server itself can answer the requests a full scan must
// make — list base/ and wals/, every WAL directory, get every backup.info and history file —
// with no added latency, the same concurrency and nothing done with the answers. No client,
// however clever, scans faster than the server answers.
func serverFloor(ctx context.Context, endpoint string, conc int) (time.Duration, error) {
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	})
	root := prefix + "/" + serverName + "/"
	start := time.Now()
	var infos []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	listAll := func(p string, delim bool, fn func(*s3.ListObjectsV2Output)) error {
		in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(p)}
		if delim {
			in.Delimiter = aws.String("/")
		}
		pg := s3.NewListObjectsV2Paginator(client, in)
		for pg.HasMorePages() {
			out, err := pg.NextPage(gctx)
			if err != nil {
				return err
			}
			fn(out)
		}
		return nil
	}
	get := func(key string) error {
		out, err := client.GetObject(gctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, out.Body)
		return out.Body.Close()
	}
	var walk errgroup.Group
	walk.Go(func() error {
		return listAll(root+"base/", false, func(out *s3.ListObjectsV2Output) {
			for _, o := range out.Contents {
				if strings.HasSuffix(aws.ToString(o.Key), "/backup.info") {
					infos = append(infos, aws.ToString(o.Key))
				}
			}
		})
	})
	walk.Go(func() error {
		return listAll(root+"wals/", true, func(out *s3.ListObjectsV2Output) {
			for _, cp := range out.CommonPrefixes {
				dir := aws.ToString(cp.Prefix)
				g.Go(func() error { return listAll(dir, false, func(*s3.ListObjectsV2Output) {}) })
			}
			for _, o := range out.Contents {
				key := aws.ToString(o.Key)
				g.Go(func() error { return get(key) })
			}
		})
	})
	if err := walk.Wait(); err != nil {
		return 0, err
	}
	for _, k := range infos {
		g.Go(func() error { return get(k) })
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
