using System.Text;
using KubeletPS.Core.Pods.Images;

namespace KubeletPS.Core.Tests.Pods.Images;

/// <summary>config.json and .dockercfg as kubelet reads them (config.go), and the malformed ones refused with the source and field named, never the content.</summary>
public sealed class DockerConfigFileTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kubeletps-dockercfg-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static string Base64(string text) => Convert.ToBase64String(Bytes(text));

    [Fact]
    public void Config_json_auth_is_base64_user_and_password_padded_or_not()
    {
        var padded = Base64("alice:s3cret:with:colons");
        var unpadded = Base64("bob:pw").TrimEnd('=');
        var config = DockerConfigFile.ParseConfigJson(Bytes("""{"auths":{"a.example":{"auth":"@0@"},"b.example":{"auth":"@1@","email":"b@example"}}}""".Replace("@0@", padded, StringComparison.Ordinal).Replace("@1@", unpadded, StringComparison.Ordinal)), "test");
        Assert.Equal(("alice", "s3cret:with:colons"), (config["a.example"].Username, config["a.example"].Password));
        Assert.Equal(("bob", "pw", "b@example"), (config["b.example"].Username, config["b.example"].Password, config["b.example"].Email));
    }

    [Fact]
    public void Username_and_password_fields_are_used_when_there_is_no_auth()
    {
        var config = DockerConfigFile.ParseConfigJson(Bytes("""{"auths":{"r.example":{"username":"u","password":"p"}},"credsStore":"x"}"""), "test");
        Assert.Equal(("u", "p"), (config["r.example"].Username, config["r.example"].Password));
        Assert.Empty(DockerConfigFile.ParseConfigJson(Bytes("{}"), "test"));
    }

    [Fact]
    public void Dockercfg_has_the_registries_at_the_top_level()
    {
        var config = DockerConfigFile.ParseDockercfg(Bytes("""{"https://r.example/v1/":{"auth":"@0@","email":"e"}}""".Replace("@0@", Base64("u:p"), StringComparison.Ordinal)), "test");
        Assert.Equal(("u", "p"), (config["https://r.example/v1/"].Username, config["https://r.example/v1/"].Password));
    }

    [Theory]
    [InlineData("""{"auths":{"r.example":{"auth":"!!!not-base64"}}}""", "src: auths.r.example.auth is not valid base64.")]
    [InlineData("""{"auths":{"r.example":{"auth":"bm9jb2xvbg=="}}}""", "src: auths.r.example.auth: unable to parse auth field, must be formatted as base64(username:password).")]
    [InlineData("""{"auths":{"r.example":{"auth":"dTpw"}""", "src: not valid JSON (line 1, byte 37).")]
    [InlineData("""["r.example"]""", "src: the docker config is not a JSON object.")]
    [InlineData("""{"auths":["r.example"]}""", "src: auths is not a JSON object of registries.")]
    [InlineData("""{"auths":{"r.example":"u:p"}}""", "src: auths.r.example is not a JSON object.")]
    [InlineData("""{"auths":{"r.example":{"password":7}}}""", "src: auths.r.example.password is not a string.")]
    public void A_malformed_config_json_names_the_source_and_field_without_its_content(string json, string message)
    {
        var e = Assert.Throws<DockerConfigException>(() => DockerConfigFile.ParseConfigJson(Bytes(json), "src"));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void A_malformed_dockercfg_is_refused()
    {
        var e = Assert.Throws<DockerConfigException>(() => DockerConfigFile.ParseDockercfg(Bytes("""{"r.example":{"auth":"%%%"}}"""), "src"));
        Assert.Equal("src: r.example.auth is not valid base64.", e.Message);
    }

    [Fact]
    public void The_node_file_is_config_json_in_the_root_directory_before_the_legacy_dockercfg()
    {
        File.WriteAllText(Path.Combine(_root, ".dockercfg"), """{"r.example":{"auth":"@0@"}}""".Replace("@0@", Base64("legacy:p"), StringComparison.Ordinal));
        Assert.Equal("legacy", DockerConfigFile.ReadNodeConfig(_root)!["r.example"].Username);
        File.WriteAllText(Path.Combine(_root, "config.json"), """{"auths":{"r.example":{"auth":"@0@"}}}""".Replace("@0@", Base64("json:p"), StringComparison.Ordinal));
        Assert.Equal("json", DockerConfigFile.ReadNodeConfig(_root)!["r.example"].Username);
    }

    [Fact]
    public void A_malformed_node_file_is_reported_and_skipped()
    {
        File.WriteAllText(Path.Combine(_root, "config.json"), """{"auths":{"r.example":{"auth":"c2VjcmV0LXBhc3N3b3Jk"}""");
        File.WriteAllText(Path.Combine(_root, ".dockercfg"), """{"r.example":{"auth":"@0@"}}""".Replace("@0@", Base64("legacy:p"), StringComparison.Ordinal));
        var skipped = new List<string>();
        var config = DockerConfigFile.ReadNodeConfig(_root, skipped.Add);
        Assert.Equal("legacy", config!["r.example"].Username);
        var report = Assert.Single(skipped, s => s.StartsWith(Path.Combine(_root, "config.json"), StringComparison.Ordinal));
        Assert.DoesNotContain("c2VjcmV0", report, StringComparison.Ordinal);
    }

    [Fact]
    public void Attack_an_endless_node_file_is_skipped_after_reading_at_most_its_bound()
    {
        // /dev/zero as config.json: before the bound, ReadAllBytes never returned (or exhausted memory).
        File.CreateSymbolicLink(Path.Combine(_root, "config.json"), "/dev/zero");
        File.WriteAllText(Path.Combine(_root, ".dockercfg"), """{"r.example":{"auth":"@0@"}}""".Replace("@0@", Base64("legacy:p"), StringComparison.Ordinal));
        var skipped = new List<string>();
        var config = DockerConfigFile.ReadNodeConfig(_root, skipped.Add);
        Assert.Equal("legacy", config!["r.example"].Username);
        var report = Assert.Single(skipped, s => s.StartsWith(Path.Combine(_root, "config.json"), StringComparison.Ordinal));
        // A device is not read at all (BoundedFile: regular files only); a large regular file still stops at the bound.
        Assert.Contains("not a regular file but a character device", report, StringComparison.Ordinal);
    }
}
