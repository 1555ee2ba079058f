#include <gtest/gtest.h>
#include <zlib.h>

#include "eval/datasets/dataset.h"
#include "eval_test_util.h"
#include "base/error.h"

using namespace c8;
using c8test::TempDir;

namespace {
const std::string kFashion = "/usr/share/datasets/fashion-mnist";
const std::string kData = std::string(C8_SHARED_DIR) + "/data";

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

std::string be32(uint32_t v) {
  return std::string{char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}
}  // namespace

TEST(EvalDatasets, FashionMnistT10kPrefix) {
  auto ds = open_dataset(kFashion + "/t10k");
  EXPECT_EQ(ds->format(), "idx");
  EXPECT_EQ(ds->root(), kFashion);
  ASSERT_EQ(ds->size(), 10000u);
  EXPECT_TRUE(ds->annotated());
  Sample s = ds->get(0);
  EXPECT_EQ(s.label, 9);
  EXPECT_EQ(s.image.width, 28);
  EXPECT_EQ(s.image.height, 28);
  EXPECT_EQ(s.image.channels, 1);
  EXPECT_EQ(s.image.at(14, 14, 0), 110);  // values from python gzip + numpy
  EXPECT_EQ(s.image.at(20, 10, 0), 126);
  long sum = 0;
  for (uint8_t v : s.image.pixels) sum += v;
  EXPECT_EQ(sum, 33456);
  Sample last = ds->get(9999);
  EXPECT_EQ(last.label, 5);
  EXPECT_EQ(last.image.at(14, 14, 0), 132);
  EXPECT_EQ(ds->label(1), 2);
  EXPECT_EQ(ds->name(0), "t10k-images-idx3-ubyte.gz#0");
  ASSERT_EQ(ds->class_names().size(), 10u);
  EXPECT_EQ(ds->class_names()[9], "Ankle boot");
  EXPECT_THROW(ds->get(10000), Error);
}

TEST(EvalDatasets, FashionMnistOtherSpecs) {
  auto test = open_dataset(kFashion + ":test");
  EXPECT_EQ(test->size(), 10000u);
  EXPECT_EQ(test->label(0), 9);
  auto file = open_dataset(kFashion + "/t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(file->size(), 10000u);
  auto train = open_dataset(kFashion + ":train");
  EXPECT_EQ(train->size(), 60000u);
  EXPECT_EQ(train->get(59999).image.width, 28);
  // The folder holds both sets: ambiguous, the error tells how to choose.
  const std::string m = c8test::error_of([] { open_dataset(kFashion); });
  EXPECT_NE(m.find("several IDX image sets (t10k, train)"), std::string::npos) << m;
  EXPECT_NE(m.find(":test"), std::string::npos) << m;
  EXPECT_NE(c8test::error_of([] { open_dataset(kFashion + ":valid"); }).find("no *-images-idx3-ubyte"),
            std::string::npos);
}

TEST(EvalDatasets, IdxValidation) {
  TempDir t;
  // Good 2-image 2x3 set, uncompressed images + gz labels, single set in the folder.
  std::string img = be32(0x803) + be32(2) + be32(3) + be32(2) + std::string(12, '\x05');
  t.write("ok/x-images-idx3-ubyte", img);
  write_gz(t.sub("ok/x-labels-idx1-ubyte.gz"), be32(0x801) + be32(2) + std::string("\x01\x03", 2));
  auto ds = open_dataset(t.sub("ok"));
  ASSERT_EQ(ds->size(), 2u);
  EXPECT_EQ(ds->get(1).label, 3);
  EXPECT_EQ(ds->get(1).image.width, 2);
  EXPECT_EQ(ds->get(1).image.height, 3);
  EXPECT_TRUE(ds->class_names().empty());
  // Bad magic.
  t.write("magic/x-images-idx3-ubyte", be32(0x801) + be32(1) + be32(1) + be32(1) + "a");
  EXPECT_NE(c8test::error_of([&] { open_dataset(t.sub("magic")); }).find("bad IDX magic"), std::string::npos);
  // Truncated data.
  t.mkdir("short");
  write_gz(t.sub("short/x-images-idx3-ubyte.gz"), img.substr(0, img.size() - 3));
  std::string m = c8test::error_of([&] { open_dataset(t.sub("short")); });
  EXPECT_NE(m.find("truncated"), std::string::npos) << m;
  EXPECT_EQ(m.rfind(t.sub("short/x-images-idx3-ubyte.gz"), 0), 0u) << m;
  // Truncated gzip stream.
  t.write("badgz/t10k-images-idx3-ubyte.gz", c8test::read_file(kFashion + "/t10k-images-idx3-ubyte.gz").substr(0, 5000));
  m = c8test::error_of([&] { open_dataset(t.sub("badgz")); });
  EXPECT_EQ(m.rfind(t.sub("badgz/t10k-images-idx3-ubyte.gz") + ": ", 0), 0u) << m;
  // Label count mismatch.
  t.write("cnt/x-images-idx3-ubyte", img);
  t.write("cnt/x-labels-idx1-ubyte", be32(0x801) + be32(3) + "abc");
  m = c8test::error_of([&] { open_dataset(t.sub("cnt")); });
  EXPECT_NE(m.find("has 3 labels but"), std::string::npos) << m;
  // No labels file: readable, not annotated.
  t.write("nolab/x-images-idx3-ubyte", img);
  auto nl = open_dataset(t.sub("nolab"));
  EXPECT_FALSE(nl->annotated());
  EXPECT_EQ(nl->get(0).label, -1);
}

TEST(EvalDatasets, LabelsTxtCifar) {
  auto ds = open_dataset(kData + "/cifar10-test-2000");
  EXPECT_EQ(ds->format(), "labels.txt");
  ASSERT_EQ(ds->size(), 2000u);
  EXPECT_TRUE(ds->annotated());
  Sample s = ds->get(0);
  EXPECT_EQ(s.name, "images/airplane_0000.png");
  EXPECT_EQ(s.label, 0);
  EXPECT_EQ(s.image.width, 32);
  EXPECT_EQ(s.image.at(0, 0, 0), 141);
  EXPECT_EQ(ds->label(1999), 9);
  EXPECT_EQ(ds->name(1999), "images/truck_0199.png");
  ASSERT_EQ(ds->class_names().size(), 10u);
  EXPECT_EQ(ds->class_names()[0], "airplane");
  EXPECT_EQ(ds->class_names()[9], "truck");
  // Direct path to labels.txt works too.
  EXPECT_EQ(open_dataset(kData + "/cifar10-test-2000/labels.txt")->size(), 2000u);
}

TEST(EvalDatasets, LabelsTxtImagenetClassNames) {
  auto ds = open_dataset(kData + "/imagenet-sample-500");
  ASSERT_EQ(ds->size(), 500u);
  EXPECT_EQ(ds->label(0), 0);
  EXPECT_EQ(ds->label(1), 2);
  auto names = ds->class_names();
  ASSERT_EQ(names.size(), 1000u);
  EXPECT_EQ(names[0], "tench");
  EXPECT_EQ(names[2], "great white shark");
}

TEST(EvalDatasets, LabelsTxtErrors) {
  TempDir t;
  t.write("a/images/x.pgm", c8test::pnm(1, 1, 1, {1}));
  t.write("a/labels.txt", "images/x.pgm 0\nimages/missing.png 1\n");
  std::string m = c8test::error_of([&] { open_dataset(t.sub("a")); });
  EXPECT_NE(m.find("image not found: " + t.sub("a/images/missing.png")), std::string::npos) << m;
  EXPECT_NE(m.find("labels.txt:2:"), std::string::npos) << m;
  t.write("b/x.pgm", c8test::pnm(1, 1, 1, {1}));
  t.write("b/labels.txt", "x.pgm cat\n");
  EXPECT_NE(c8test::error_of([&] { open_dataset(t.sub("b")); }).find("invalid class index 'cat'"),
            std::string::npos);
  t.write("c/labels.txt", "# nothing\n\n");
  EXPECT_NE(c8test::error_of([&] { open_dataset(t.sub("c")); }).find(t.sub("c") + ": no images found"),
            std::string::npos);
  t.write("d/x.pgm", c8test::pnm(1, 1, 1, {1}));
  t.write("d/labels.txt", "x.pgm 3\n");
  t.write("d/classes.txt", "a\nb\n");
  EXPECT_NE(c8test::error_of([&] { open_dataset(t.sub("d")); }).find("out of range"), std::string::npos);
  // Paths with spaces, CRLF line ends, comments.
  t.write("e/my dir/x y.pgm", c8test::pnm(1, 1, 1, {42}));
  t.write("e/labels.txt", "# comment\r\nmy dir/x y.pgm 1\r\n");
  auto ds = open_dataset(t.sub("e"));
  ASSERT_EQ(ds->size(), 1u);
  EXPECT_EQ(ds->get(0).image.at(0, 0, 0), 42);
  EXPECT_EQ(ds->label(0), 1);
}

TEST(EvalDatasets, ListTxtDetectionAndSegmentation) {
  auto det = open_dataset(kData + "/indoor-det-85");
  EXPECT_EQ(det->format(), "list.txt");
  ASSERT_EQ(det->size(), 85u);
  EXPECT_FALSE(det->annotated());
  EXPECT_EQ(det->name(0), "images/2007_000027.jpg");
  auto ann = det->annotation_paths(0);
  ASSERT_EQ(ann.size(), 1u);
  EXPECT_EQ(ann[0], kData + "/indoor-det-85/annotations/2007_000027.xml");
  EXPECT_EQ(det->class_names().size(), 80u);
  EXPECT_EQ(det->get(0).label, -1);
  auto seg = open_dataset(kData + "/voc2012-seg-3");
  ASSERT_EQ(seg->size(), 3u);
  EXPECT_EQ(seg->get(1).image.width, 513);
  EXPECT_EQ(seg->annotation_paths(2)[0], kData + "/voc2012-seg-3/masks/voc_val_114.png");
}

TEST(EvalDatasets, ClassFolders) {
  TempDir t;
  t.write("dog/b.pgm", c8test::pnm(1, 1, 1, {2}));
  t.write("dog/a.PNG.pgm", c8test::pnm(1, 1, 1, {1}));
  t.write("cat/z.ppm", c8test::pnm(1, 1, 3, {3, 3, 3}));
  t.write("cat/nested/y.pgm", c8test::pnm(1, 1, 1, {4}));
  t.write("cat/readme.txt", "not an image");
  t.mkdir("empty");
  t.write(".hidden/x.pgm", c8test::pnm(1, 1, 1, {9}));
  auto ds = open_dataset(t.path);
  EXPECT_EQ(ds->format(), "class-folders");
  EXPECT_TRUE(ds->annotated());
  EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"cat", "dog", "empty"}));
  ASSERT_EQ(ds->size(), 4u);
  EXPECT_EQ(ds->name(0), "cat/nested/y.pgm");
  EXPECT_EQ(ds->name(1), "cat/z.ppm");
  EXPECT_EQ(ds->name(2), "dog/a.PNG.pgm");
  EXPECT_EQ(ds->name(3), "dog/b.pgm");
  EXPECT_EQ(ds->label(0), 0);
  EXPECT_EQ(ds->label(3), 1);
  Sample s = ds->get(1);
  EXPECT_EQ(s.image.channels, 3);
  EXPECT_EQ(s.label, 0);
}

TEST(EvalDatasets, PlainFolderAndEmptyFolder) {
  TempDir t;
  t.write("imgs/b.pgm", c8test::pnm(2, 1, 1, {1, 2}));
  t.write("imgs/a.pgm", c8test::pnm(1, 1, 1, {1}));
  t.write("imgs/sub/c.pgm", c8test::pnm(1, 1, 1, {1}));
  t.write("imgs/.hidden.pgm", c8test::pnm(1, 1, 1, {1}));
  t.write("imgs/notes.txt", "x");
  auto ds = open_dataset(t.sub("imgs"));
  EXPECT_EQ(ds->format(), "image-folder");
  EXPECT_FALSE(ds->annotated());
  ASSERT_EQ(ds->size(), 3u);
  EXPECT_EQ(ds->name(0), "a.pgm");
  EXPECT_EQ(ds->name(1), "b.pgm");
  EXPECT_EQ(ds->name(2), "sub/c.pgm");
  EXPECT_EQ(ds->get(1).image.width, 2);
  EXPECT_EQ(ds->get(1).label, -1);

  t.mkdir("empty");
  t.write("empty/readme.txt", "no images here");
  EXPECT_EQ(c8test::error_of([&] { open_dataset(t.sub("empty")); }), t.sub("empty") + ": no images found");
  t.mkdir("emptysub/a");
  EXPECT_EQ(c8test::error_of([&] { open_dataset(t.sub("emptysub")); }), t.sub("emptysub") + ": no images found");
  EXPECT_NE(c8test::error_of([&] { open_dataset(t.sub("nope")); }).find("no such file"), std::string::npos);
}

TEST(EvalDatasets, CorruptImageFailsAtGetNamingFile) {
  TempDir t;
  t.write("x/bad.jpg", "garbage");
  auto ds = open_dataset(t.sub("x"));
  ASSERT_EQ(ds->size(), 1u);
  const std::string m = c8test::error_of([&] { ds->get(0); });
  EXPECT_EQ(m.rfind(t.sub("x/bad.jpg") + ": ", 0), 0u) << m;
}

TEST(EvalDatasets, ClassNamesFile) {
  TempDir t;
  t.write("classes.txt", "n01440764 tench\nn01443537 goldfish\nplain name\nsingle\n\n");
  EXPECT_EQ(read_class_names(t.sub("classes.txt")),
            (std::vector<std::string>{"tench", "goldfish", "plain name", "single"}));
  EXPECT_TRUE(is_image_file_name("a.JPEG"));
  EXPECT_FALSE(is_image_file_name("a.xml"));
}
