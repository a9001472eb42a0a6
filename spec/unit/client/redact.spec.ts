import { redactConnectionString } from '../../../lib/client/redact';

describe('redactConnectionString', () => {
  it.each([
    ['mongodb://alice:s3cret@db1:27017/app', 'mongodb://alice:****@db1:27017/app'],
    ['mongodb+srv://alice:s3cret@cluster.example.net/?retryWrites=true', 'mongodb+srv://alice:****@cluster.example.net/?retryWrites=true'],
    ['mongodb://alice:p%40ss%2Fw@h1,h2/app?replicaSet=rs0', 'mongodb://alice:****@h1,h2/app?replicaSet=rs0'],
    ['mongodb://user@h1/app', 'mongodb://user@h1/app'],
    ['mongodb://h1:27017/app?authSource=admin', 'mongodb://h1:27017/app?authSource=admin'],
    // an unescaped @ or / in the password still ends up masked
    ['mongodb://alice:pa@ss/wo@rd@h1/app', 'mongodb://alice:****@h1/app'],
    [
      'mongodb://h1/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok3n',
      'mongodb://h1/?authMechanism=MONGODB-AWS&authMechanismProperties=****',
    ],
    ['mongodb://h1/?tls=true&tlsCertificateKeyFilePassword=k3y&proxyPassword=pr0xy', 'mongodb://h1/?tls=true&tlsCertificateKeyFilePassword=****&proxyPassword=****'],
  ])('%s → %s', (uri, expected) => {
    expect(redactConnectionString(uri)).toBe(expected);
  });
});
