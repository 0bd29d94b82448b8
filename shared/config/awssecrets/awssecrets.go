// Package awssecrets reads settings' secrets from AWS Secrets Manager. It is
// apart from package config so that a function reading no secret does not
// link the Secrets Manager client.
package awssecrets

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// GetSecretValuer is the one Secrets Manager call used.
type GetSecretValuer interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Source is a config.SecretSource on Secrets Manager.
type Source struct{ Client GetSecretValuer }

// New builds a Source with a client from cfg.
func New(cfg aws.Config) Source { return Source{Client: secretsmanager.NewFromConfig(cfg)} }

// SecretValue returns the secret's current string value.
func (s Source) SecretValue(ctx context.Context, arn string) (string, error) {
	out, err := s.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.SecretString), nil
}
