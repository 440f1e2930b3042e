using KubeletPS.Core.Join;

namespace KubeletPS.Core.Tests.Join;

/// <summary>The detached JWS against the vectors of k8s.io/cluster-bootstrap/token/jws/jws_test.go.</summary>
public sealed class DetachedJwsTests
{
    private const string Content = "Hello from the other side. I must have called a thousand times.";
    private const string Secret = "my voice is my passcode";
    private const string Id = "joshua";

    [Theory]
    [InlineData(Content, Secret, "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8")]
    [InlineData("", Secret, "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk")]
    [InlineData(Content, "", "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..UfkqvDGiIFxrMnFseDj9LYJOLNrvjW8aHhF71mvvAs8")]
    public void ComputeDetachedSignature_gives_kubeadms_signature(string content, string secret, string expected) =>
        Assert.Equal(expected, DetachedJws.ComputeDetachedSignature(content, Id, secret));

    [Fact]
    public void A_signature_is_valid_only_for_the_same_content_token_id_and_secret()
    {
        const string signature = "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8";
        Assert.True(DetachedJws.IsValid(signature, Content, Id, Secret));
        Assert.False(DetachedJws.IsValid(signature + "foo", Content, Id, Secret));
        Assert.False(DetachedJws.IsValid(signature, Content + " ", Id, Secret));
        Assert.False(DetachedJws.IsValid(signature, Content, "joshub", Secret));
        Assert.False(DetachedJws.IsValid(signature, Content, Id, Secret + "!"));
        Assert.False(DetachedJws.IsValid("", Content, Id, Secret));
    }

    [Fact]
    public void The_test_API_servers_signer_and_the_engine_agree()
    {
        const string kubeconfig = "apiVersion: v1\nkind: Config\n";
        Assert.Equal(KubeletPS.TestCluster.Server.Controllers.BootstrapSigner.ComputeDetachedSignature(kubeconfig, "abcdef", "0123456789abcdef"),
            DetachedJws.ComputeDetachedSignature(kubeconfig, "abcdef", "0123456789abcdef"));
    }
}
