using Serverless.Models;

namespace Serverless.Tests.Models;

public sealed class ModelVersionTests
{
    [Theory]
    [InlineData("v1")]
    [InlineData("2018-01-01T00.lgbm_3")]
    [InlineData("A.b-C_9")]
    public void Plain_versions_are_valid(string version) => Assert.True(ModelVersion.IsValid(version));

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("v1' or '1' eq '1")]
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("v1:live")]
    [InlineData("é")]
    public void Anything_else_is_rejected(string? version)
    {
        Assert.False(ModelVersion.IsValid(version));
        Assert.Throws<ArgumentException>(() => ModelVersion.Validate(version));
    }

    [Fact]
    public void At_most_64_characters()
    {
        Assert.True(ModelVersion.IsValid(new string('a', 64)));
        Assert.False(ModelVersion.IsValid(new string('a', 65)));
    }
}
