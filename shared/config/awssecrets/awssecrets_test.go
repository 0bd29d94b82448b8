package awssecrets

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

type answer struct {
	out *secretsmanager.GetSecretValueOutput
	err error
}

func (a answer) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return a.out, a.err
}

func TestSecretValue(t *testing.T) {
	notFound := func(msg string) error { return &types.ResourceNotFoundException{Message: aws.String(msg)} }
	cases := []struct {
		name    string
		answer  answer
		want    string
		wantErr bool
	}{
		{"a value", answer{out: &secretsmanager.GetSecretValueOutput{SecretString: aws.String("s3cret")}}, "s3cret", false},
		// What Secrets Manager answers for a secret created without a value.
		{"never filled", answer{err: notFound("Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")}, "", false},
		{"no such secret", answer{err: notFound("Secrets Manager can't find the specified secret.")}, "", true},
		{"access denied", answer{err: errors.New("AccessDeniedException")}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Source{Client: c.answer}.SecretValue(context.Background(), "arn:aws:secretsmanager:eu-west-1:1:secret:x")
			if (err != nil) != c.wantErr || got != c.want {
				t.Fatalf("SecretValue = %q, %v; want %q, error %v", got, err, c.want, c.wantErr)
			}
		})
	}
}
