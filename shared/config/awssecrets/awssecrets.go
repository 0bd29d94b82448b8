// Package awssecrets reads settings' secrets from AWS Secrets Manager. It is
// apart from package config so that a function reading no secret does not
// link the Secrets Manager client.
package awssecrets

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// GetSecretValuer is the one Secrets Manager call used.
type GetSecretValuer interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Source is a config.SecretSource on Secrets Manager.
type Source struct{ Client GetSecretValuer }

// New builds a Source with a client from cfg.
func New(cfg aws.Config) Source { return Source{Client: secretsmanager.NewFromConfig(cfg)} }

// SecretValue returns the secret's current string value. A secret that was
// created without a value (the stack creates them so) has no AWSCURRENT
// version, which Secrets Manager reports as ResourceNotFoundException: that
// is an empty secret, not a missing one, so an optional secret left unfilled
// does not stop a function from starting.
func (s Source) SecretValue(ctx context.Context, arn string) (string, error) {
	out, err := s.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		if noValueYet(err) {
			return "", nil
		}
		return "", err
	}
	return aws.ToString(out.SecretString), nil
}

// noValueYet tells the "no version under the AWSCURRENT label" answer from
// a secret that does not exist: both are ResourceNotFoundException, and only
// the message says which.
func noValueYet(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf) && strings.Contains(strings.ToLower(nf.ErrorMessage()), "staging label")
}
