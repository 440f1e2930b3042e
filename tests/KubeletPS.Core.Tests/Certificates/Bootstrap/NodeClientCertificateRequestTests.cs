using KubeletPS.Core.Certificates.Bootstrap;

namespace KubeletPS.Core.Tests.Certificates.Bootstrap;

public sealed class NodeClientCertificateRequestTests
{
    [Fact]
    public void Digested_name_is_kubelets_sha512_256_over_base64url_parts()
    {
        // Expected value computed independently (Python hashlib sha512_256) with bootstrap.go's digestedName scheme.
        var spki = Convert.FromBase64String("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEx+DNNjcKcx3Zr/gDja8xyPs3n4nPeitt9Ie0Di8w+yYjLR9edEahAkewtJ1uzeG4QQHj3Wve6X+5jup8AxREWA==");

        Assert.Equal("node-csr-ZLaRDaIat4I6O1BqUPNrA0pHsC4qxHxI5pk2eRKggeI", NodeClientCertificateRequest.DigestedName(spki, "worker-1"));
        Assert.NotEqual(NodeClientCertificateRequest.DigestedName(spki, "worker-1"), NodeClientCertificateRequest.DigestedName(spki, "worker-2"));
    }
}
