using System.Diagnostics;
using KubeletPS.Core.Join;
using KubeletPS.Core.Tests.TestCluster;

namespace KubeletPS.Core.Tests.Join;

public sealed class PublicKeyPinsTests
{
    /// <summary>The hash kubeadm's documentation computes with openssl: the DER public key, SHA-256, hex.</summary>
    [Fact]
    public void Hash_is_the_sha256_of_the_SubjectPublicKeyInfo_as_openssl_computes_it()
    {
        var dir = Directory.CreateTempSubdirectory("kubeletps-pin-");
        var ca = Path.Combine(dir.FullName, "ca.crt");
        File.WriteAllText(ca, TestObjects.SharedPki.CA.CertificatePem);
        var start = new ProcessStartInfo("sh", ["-c", $"openssl x509 -pubkey -in '{ca}' | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex | sed 's/^.* //'"])
        {
            RedirectStandardOutput = true,
        };
        using var openssl = Process.Start(start)!;
        var hex = openssl.StandardOutput.ReadToEnd().Trim();
        openssl.WaitForExit();
        dir.Delete(true);
        Assert.Matches("^[0-9a-f]{64}$", hex);

        Assert.Equal("sha256:" + hex, PublicKeyPins.Hash(TestObjects.SharedPki.CA.Certificate));
    }

    [Theory]
    [InlineData("sha256", "invalid hash, expected \"format:hex-value\". Known format(s) are: sha256")]
    [InlineData("md5:0123", "unknown hash format \"md5\". Known format(s) are: sha256")]
    [InlineData("sha256:0123", "invalid hash \"sha256:0123\", expected a 32 byte SHA-256 hash, found 2 bytes")]
    [InlineData("sha256:zz23456789012345678901234567890123456789012345678901234567890123", "could not decode SHA-256 from hex")]
    public void Allow_refuses_a_malformed_hash_with_kubeadms_message(string hash, string message)
    {
        var error = Assert.Throws<KubeletException>(() => new PublicKeyPins().Allow(hash));
        Assert.Contains(message, error.Message);
        Assert.Equal(KubeletErrorKind.InvalidArgument, error.Category);
    }

    [Fact]
    public void CheckAny_accepts_a_pinned_key_in_any_case_and_names_the_keys_it_saw_otherwise()
    {
        var hash = PublicKeyPins.Hash(TestObjects.SharedPki.CA.Certificate);
        var pins = new PublicKeyPins();
        pins.Allow("SHA256:" + hash[7..].ToUpperInvariant());
        Assert.Null(pins.CheckAny([TestObjects.SharedPki.CA.Certificate]));

        var other = new PublicKeyPins();
        other.Allow("sha256:" + new string('0', 64));
        Assert.Equal($"none of the public keys \"{hash}\" are pinned", other.CheckAny([TestObjects.SharedPki.CA.Certificate]));
    }

    [Theory]
    [InlineData("k3x9q2.a1b2c3d4e5f6g7h8", true)]
    [InlineData("K3X9Q2.a1b2c3d4e5f6g7h8", false)]
    [InlineData("k3x9q2.a1b2c3d4e5f6g7h", false)]
    [InlineData("k3x9q2:a1b2c3d4e5f6g7h8", false)]
    [InlineData(" k3x9q2.a1b2c3d4e5f6g7h8", false)]
    public void A_bootstrap_token_has_kubeadms_form(string token, bool valid)
    {
        Assert.Equal(valid, BootstrapTokenString.IsValid(token));
        if (valid)
        {
            var parsed = BootstrapTokenString.Parse(token);
            Assert.Equal("k3x9q2.****", parsed.ToString());
            Assert.Equal("k3x9q2", parsed.Id);
        }
        else
        {
            var error = Assert.Throws<KubeletException>(() => BootstrapTokenString.Parse(token));
            Assert.DoesNotContain("a1b2c3d4e5f6g7h", error.Message);
        }
    }
}
